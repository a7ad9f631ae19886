; xdp_pass.s - the smallest XDP program: let every frame pass.
;
; `redirect-lab up --mode xdp` attaches it natively on veth2@2 in netns_2. A
; native XDP redirect into a veth (veth_xdp_xmit, drivers/net/veth.c) puts the
; frame on the *peer's* XDP receive ring, which only exists while the peer has
; NAPI running: an XDP program on it (or GRO, Linux 5.13+) turns that on.
; Without one the redirected frames are dropped (`--pitfall` shows it), as in
; the selftests' test_xdp_veth.c, whose peers run XDP_PASS too.

	.section xdp
	.license "GPL"
	.name xdp_pass

	.equ XDP_PASS, 2		# enum xdp_action, include/uapi/linux/bpf.h

	r0 = XDP_PASS
	exit
