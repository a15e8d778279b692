//! Synthetic traffic: realistic multi-hop wide events for benchmarks, and the simulated
//! services of `waylog demo` (scenario topology and per-hop events in [`scenario`], the HTTP
//! services in [`services`]; the command itself is the CLI verb `crate::cli::demo`, which
//! uses this module, never the reverse).

pub mod bench;
pub mod bench_delta;
pub mod ceilings;
pub mod otlp_load;
pub mod scenario;
pub mod services;
pub mod traffic;
