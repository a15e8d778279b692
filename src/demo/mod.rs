//! Synthetic traffic: realistic multi-hop wide events for benchmarks (and the demo).

pub mod bench;
pub mod traffic;
