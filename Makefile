# The redirect lab. Every target needs root except build, fmt and clippy.
#
#   make up       build, bring the lab up, then listen in netns_2 (like the seed)
#                 (MODE=peer|neigh|fib|xdp|devmap|tcx|ingress for another technique)
#   make send     send one datagram from the host side (MESSAGE="..."); make ping, make status
#   make test     fmt check, clippy, every test, and the kernel matrix
#   make kernels  the kernel-behaviour suite on Debian 5.10, 6.1, 6.12, 7.2 and this host
#                 (KERNELS=5.10,7.2 for a subset; KERNELS_FLAGS=--no-host, --slots N)
#   make bench    benchmarks, written to target/bench.md

MAKEFLAGS += --no-print-directory
CARGO ?= cargo
# The lab targets need root. From a user shell: make up SUDO=sudo
SUDO ?=
LAB = $(SUDO) $(or $(CARGO_TARGET_DIR),target)/release/redirect-lab
# UP_FLAGS: --ingress (BPF_F_INGRESS), --trace (bpf_trace_printk variant),
# --explain (print every layer), --no-program (netns_1 forwards by itself).
UP_FLAGS ?=
# MODE: the redirect technique (`redirect-lab up --mode`): egress (default),
# ingress, peer, neigh, fib, xdp, devmap, tcx, netkit. PITFALL=1 adds --pitfall.
MODE ?=
PITFALL ?=
UP_MODE = $(if $(MODE),--mode $(MODE)) $(if $(PITFALL),--pitfall)
# LAB_FLAGS go to every lab command, e.g. LAB_FLAGS="--prefix T1" for an
# isolated lab that leaves the host namespace alone.
LAB_FLAGS ?=
MESSAGE ?= hello
# make kernels KERNELS=5.10,7.2 runs a subset of the series (plus the host).
KERNELS ?=

.PHONY: build up down listen send ping status trace explain test fmt clippy kernels bench

build:
	$(CARGO) build --release --bin redirect-lab

# Like the seed: rebuild the lab from scratch (up tears down an existing one,
# and reads bpf-src/redirect.s from disk, so an edit is deployed), then listen
# in the foreground.
up: build
	$(LAB) up $(LAB_FLAGS) $(UP_MODE) $(UP_FLAGS)
	# Listening for UDP on 10.0.2.11:7777 in netns_2. In another shell: make send
	@$(MAKE) listen

explain: build
	$(LAB) up --explain $(LAB_FLAGS) $(UP_MODE) $(UP_FLAGS)

down: build
	$(LAB) down $(LAB_FLAGS)

listen: build
	$(LAB) listen $(LAB_FLAGS)

send: build
	$(LAB) send $(LAB_FLAGS) "$(MESSAGE)"

ping: build
	$(LAB) ping $(LAB_FLAGS)

status: build
	$(LAB) status $(LAB_FLAGS)

trace: build
	$(LAB) trace

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: fmt clippy
	$(CARGO) test --workspace
	$(MAKE) kernels

kernels:
	# One static build serves the runner, the VM's init and the suite (the runner's own build step is then a no-op).
	d=$${CARGO_TARGET_DIR:-target}/static; RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR=$$d $(CARGO) build --release --target x86_64-unknown-linux-gnu -p lab-tests --bin kernel-matrix --bin lab-init --bin behaviour-suite && $$d/x86_64-unknown-linux-gnu/release/kernel-matrix $(if $(KERNELS),--kernels $(KERNELS)) $(KERNELS_FLAGS)

# bench times the redirect-lab binary itself (bring-up), so build it too, and
# with --smoke runs the kernel-matrix binary next to it for the host column.
# BENCH_FLAGS: --only NAME, --reps N, --smoke (see tests/src/bin/bench.rs).
bench:
	$(CARGO) build --release -p loader --bin redirect-lab
	$(CARGO) build --release -p lab-tests --bin bench --bin kernel-matrix
	# Benchmark 7 boots guests of its own with the static suite (as make kernels builds it).
	d=$${CARGO_TARGET_DIR:-target}/static; RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR=$$d $(CARGO) build --release --target x86_64-unknown-linux-gnu -p lab-tests --bin lab-init --bin behaviour-suite
	$(SUDO) $(or $(CARGO_TARGET_DIR),target)/release/bench $(BENCH_FLAGS)
