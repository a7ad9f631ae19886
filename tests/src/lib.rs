//! `lab-tests`: shared support for the end-to-end tests, the kernel-behaviour
//! suite, the kernel-matrix runner and the benchmarks.
