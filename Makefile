# The redirect lab. Every target needs root except build, fmt and clippy.
#
#   make up       build, bring the lab up, then listen in netns_2 (like the seed)
#   make test     fmt check, clippy, every test, and the kernel matrix
#   make kernels  the kernel-behaviour suite on Debian 6.1, 6.12 and this host
#   make bench    benchmarks, written to target/bench.md

MAKEFLAGS += --no-print-directory
CARGO ?= cargo
LAB = target/release/redirect-lab

.PHONY: build up down listen send status trace explain test fmt clippy kernels bench

build:
	$(CARGO) build --release --bin redirect-lab

up: build
	$(LAB) up $(UP_FLAGS)
	# Listening for UDP on 10.0.2.11:7777 in netns_2. In another shell: make send
	@$(MAKE) listen

explain: build
	$(LAB) up --explain $(UP_FLAGS)

down: build
	$(LAB) down

listen: build
	$(LAB) listen

send: build
	$(LAB) send $(MESSAGE)

status: build
	$(LAB) status

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
	$(CARGO) run --release -p lab-tests --bin kernel-matrix

bench:
	$(CARGO) run --release -p lab-tests --bin bench
