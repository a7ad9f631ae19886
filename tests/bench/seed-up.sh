#!/bin/sh
# seed-up.sh - the seed's `make up`, timed by `make bench` against
# `redirect-lab up`. It does what the seed's Makefile does, in the same
# processes: dump vmlinux.h with bpftool, compile the program with clang, then
# one `ip`/`tc` command per step, through `ip netns exec` where the seed uses it.
#
# Adapted so it can never touch the real host: the seed's "host" side
# (veth1@1, the route to 10.0.2.0/24) lives in a namespace of its own,
# ${PREFIX}h, next to ${PREFIX}1 (netns_1) and ${PREFIX}2 (netns_2). It also
# adds what the seed lacks to really deliver a packet on a host without
# Docker (see DESIGN.md): IPv4 forwarding for proxy ARP in netns_1, proxy ARP
# on veth2@1 for replies, and lo up. The listener (`make listen`) is left out,
# as it is for `redirect-lab up`.
#
#   seed-up.sh up PREFIX WORKDIR    build the lab (the part that is timed)
#   seed-up.sh down PREFIX          remove its namespaces
set -eu

cmd=${1:?usage: seed-up.sh up|down PREFIX [WORKDIR]}
P=${2:?usage: seed-up.sh up|down PREFIX [WORKDIR]}
HOST="${P}h"
NET_1="${P}1"
NET_2="${P}2"
HERE=$(cd "$(dirname "$0")" && pwd)

case "$cmd" in
down)
	for ns in "$HOST" "$NET_1" "$NET_2"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	# `ip netns del` returns before the kernel has destroyed the devices
	# inside; the bench never reuses a PREFIX, so nothing has to wait here.
	exit 0
	;;
up) ;;
*)
	echo "seed-up.sh: unknown command $cmd (up or down)" >&2
	exit 2
	;;
esac

W=${3:?usage: seed-up.sh up PREFIX WORKDIR}
mkdir -p "$W"

# vmlinux.h and the object, every time: the seed's Makefile rebuilds them
# from a torn-down (fresh clone) state.
rm -f "$W/vmlinux.h" "$W/redirect.bpf.o"
bpftool btf dump file /sys/kernel/btf/vmlinux format c >"$W/vmlinux.h"
clang -O2 -target bpf -g3 -I"$W" -c "$HERE/seed-redirect.bpf.c" -o "$W/redirect.bpf.o"

EXEC="ip netns exec"
ip netns add "$HOST"
ip netns add "$NET_1"
ip netns add "$NET_2"
ip -n "$HOST" link set lo up
$EXEC "$NET_1" ip link set lo up
$EXEC "$NET_2" ip link set lo up
ip -n "$HOST" link add name veth1@1 type veth peer name veth1@2 netns "$NET_1"
ip -n "$HOST" addr add 10.0.1.10/24 dev veth1@1
$EXEC "$NET_1" ip addr add 10.0.1.11/24 dev veth1@2
$EXEC "$NET_1" ip link add name veth2@1 type veth peer name veth2@2 netns "$NET_2"
$EXEC "$NET_1" ip addr add 10.0.2.10/24 dev veth2@1
$EXEC "$NET_2" ip addr add 10.0.2.11/24 dev veth2@2
ip -n "$HOST" link set veth1@1 up
$EXEC "$NET_1" ip link set veth1@2 up
$EXEC "$NET_1" ip link set veth2@1 up
$EXEC "$NET_2" ip link set veth2@2 up
ip -n "$HOST" route add 10.0.2.0/24 dev veth1@1
$EXEC "$NET_2" ip route add 10.0.1.0/24 dev veth2@2
$EXEC "$NET_1" /bin/sh -c 'echo 1 > /proc/sys/net/ipv4/conf/veth1@2/proxy_arp'
$EXEC "$NET_1" /bin/sh -c 'echo 1 > /proc/sys/net/ipv4/conf/veth2@1/proxy_arp'
$EXEC "$NET_1" /bin/sh -c 'echo 1 > /proc/sys/net/ipv4/conf/veth1@2/forwarding'
$EXEC "$NET_1" /bin/sh -c 'echo 1 > /proc/sys/net/ipv4/conf/veth2@1/forwarding'
$EXEC "$NET_2" ip link set dev veth2@2 addr 02:00:00:00:00:00
$EXEC "$NET_1" tc qdisc replace dev veth1@2 clsact
$EXEC "$NET_1" tc filter replace dev veth1@2 ingress bpf direct-action object-file "$W/redirect.bpf.o" section tc
