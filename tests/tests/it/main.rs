//! Tests across crates and processes, in one binary.

mod crash;
