//! Integration tests of the execution layer, in one binary.

mod blockchain_tests;
mod call_tests;
mod execution_tests;
mod fixtures;
mod history_tests;
mod state_root_tests;
mod support;
mod system_tests;
mod trace_tests;
mod transaction_tests;
mod trie_tests;
