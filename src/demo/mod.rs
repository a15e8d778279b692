//! Synthetic traffic: realistic multi-hop wide events for benchmarks, and `waylog demo`
//! (scenario topology in [`scenario`], the command in [`run`]).

pub mod bench;
pub mod run;
pub mod scenario;
pub mod traffic;
