//! Synthetic traffic: realistic multi-hop wide events for benchmarks, and `waylog demo`
//! (scenario topology in [`scenario`], the command in [`run`]).

pub mod bench;
pub mod otlp_load;
pub mod run;
pub mod scenario;
pub mod traffic;
