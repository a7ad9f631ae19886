//! `lab-tests`: shared support for the end-to-end tests, the kernel-behaviour
//! suite, the kernel-matrix runner and the benchmarks.
//!
//! The kernel-behaviour pieces, in the order data flows through them:
//! [`behaviours`] (what is asserted) -> [`suite`] (runs them, prints
//! [`report`] lines) -> [`vm`] (boots a kernel from [`kernels`] with a
//! [`cpio`] initramfs) -> [`report`] (parses the lines back) -> [`matrix`].

pub mod apt;
pub mod behaviours;
pub mod bench;
pub mod bpftool;
pub mod clang;
pub mod cpio;
pub mod kernels;
pub mod matrix;
pub mod program;
pub mod report;
pub mod suite;
pub mod sys;
pub mod topology;
pub mod vm;
