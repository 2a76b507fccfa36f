//! Tests across crates and processes, in one binary.

mod bridge;
mod byzantine;
mod cli;
mod clients;
mod conformance;
mod crash;
mod deploy;
mod disk;
mod epochs;
mod hostile;
mod limits;
mod node_rpc;
mod simulate;
mod traces;
mod validators;
mod wan;
