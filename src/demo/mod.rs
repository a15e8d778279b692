//! Synthetic traffic: realistic multi-hop wide events for benchmarks and for `waylog demo`
//! (scenario topology in [`scenario`]; the command itself is the CLI verb
//! `crate::cli::demo`, which uses this module, never the reverse).

pub mod bench;
pub mod otlp_load;
pub mod scenario;
pub mod traffic;
