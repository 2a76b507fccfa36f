//! Integration tests of the consensus core: the deterministic simulator
//! and the fuzz targets (`fuzz.rs`).
//!
//! CI runs 500 seeds for each of n = 4, 7 and 10 validators with the most
//! byzantine validators the size allows (their power kept below 1/3).

#[path = "../sim/mod.rs"]
mod sim;

mod fuzz;
mod simulation;
