; Every instruction class the verifier accepts in a TC program, to compare
; the kernel's own rendering with ours.
	.section tc
	.name forms
	r6 = r1
	r1 = *(u32 *)(r6 +0)		# skb->len: a value the verifier cannot predict
	r1 &= 0xffff
	r3 = r1
	r3 |= 1				# never zero: a divisor
	w2 = w1
	w4 = w3
	r1 += 1
	r1 -= 1
	r1 *= 3
	r1 /= 2
	r1 s/= 3
	r1 %= 5
	r1 s%= 3
	r1 |= 8
	r1 &= 0xff
	r1 <<= 2
	r1 >>= 1
	r1 s>>= 1
	r1 ^= 3
	r1 += r3
	r1 -= r3
	r1 *= r3
	r1 /= r3
	r1 s/= r3
	r1 %= r3
	r1 s%= r3
	r1 |= r3
	r1 &= r3
	r1 ^= r3
	r1 = r3
	w2 += 1
	w2 -= -1
	w2 *= w4
	w2 /= w4
	w2 s/= w4
	w2 %= w4
	w2 s%= 7
	w2 |= w4
	w2 &= 0xfff
	w2 <<= 3
	w2 >>= w4
	w2 s>>= 2
	w2 ^= w4
	w2 = 9
	r1 = -r1
	w2 = -w2
	r1 = (s8)r3
	r1 = (s16)r3
	r1 = (s32)r3
	w2 = (s8)w4
	w2 = (s16)w4
	r1 = be16 r1
	r1 = be32 r1
	r1 = be64 r1
	r1 = le16 r1
	r1 = le32 r1
	r1 = le64 r1
	r1 = bswap16 r1
	r1 = bswap32 r1
	r1 = bswap64 r1
	*(u64 *)(r10 -8) = r1
	*(u32 *)(r10 -16) = 5
	*(u32 *)(r10 -12) = r2
	*(u16 *)(r10 -18) = r2
	*(u8 *)(r10 -19) = 1
	*(u8 *)(r10 -20) = r2
	*(u16 *)(r10 -22) = -2
	*(u64 *)(r10 -32) = 7
	r4 = *(u64 *)(r10 -8)
	r4 = *(u32 *)(r10 -16)
	r4 = *(u16 *)(r10 -18)
	r4 = *(u8 *)(r10 -19)
	r4 = *(s32 *)(r10 -16)
	r4 = *(s16 *)(r10 -18)
	r4 = *(s8 *)(r10 -19)
	lock *(u64 *)(r10 -8) += r1
	lock *(u64 *)(r10 -8) |= r1
	lock *(u64 *)(r10 -8) &= r1
	lock *(u64 *)(r10 -8) ^= r1
	lock *(u32 *)(r10 -16) += r2
	lock *(u32 *)(r10 -16) |= r2
	lock *(u32 *)(r10 -16) &= r2
	lock *(u32 *)(r10 -16) ^= r2
	r1 = atomic64_fetch_add((u64 *)(r10 -8), r1)
	r1 = atomic64_fetch_or((u64 *)(r10 -8), r1)
	r1 = atomic64_fetch_and((u64 *)(r10 -8), r1)
	r1 = atomic64_fetch_xor((u64 *)(r10 -8), r1)
	r2 = atomic_fetch_add((u32 *)(r10 -16), r2)
	r2 = atomic_fetch_xor((u32 *)(r10 -16), r2)
	r1 = atomic64_xchg((u64 *)(r10 -8), r1)
	r2 = atomic_xchg((u32 *)(r10 -16), r2)
	r0 = 0
	r0 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r1)
	r0 = 0
	r0 = atomic_cmpxchg((u32 *)(r10 -16), r0, r2)
	r1 = 0x123456789 ll
	r1 = *(u32 *)(r6 +0)
	r3 = *(u32 *)(r6 +4)
	if r1 == 0x5 goto pc+1
	r0 = 1
	if r1 != r3 goto pc+1
	r0 = 2
	if r1 > 0xa goto pc+1
	r0 = 3
	if r1 >= r3 goto pc+1
	r0 = 4
	if r1 < 0x64 goto pc+1
	r0 = 5
	if r1 <= r3 goto pc+1
	r0 = 6
	if r1 s> 0x3 goto pc+1
	r0 = 7
	if r1 s>= r3 goto pc+1
	r0 = 8
	if r1 s< 0xffffffff goto pc+1
	r0 = 9
	if r1 s<= r3 goto pc+1
	r0 = 10
	if r1 & 0x4 goto pc+1
	r0 = 11
	if w1 == 0x5 goto pc+1
	r0 = 12
	if w1 != w3 goto pc+1
	r0 = 13
	if w1 s< 0x7 goto pc+1
	r0 = 14
	if w1 & w3 goto pc+1
	r0 = 15
	goto pc+0
	gotol pc+0
	may_goto pc+0
	call bpf_get_prandom_u32#7
	r0 = 0
	exit
