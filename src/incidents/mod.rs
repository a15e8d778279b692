//! The incident engine's pure rules (spec triage §2-§5, §7.4): detection contract and its SQL,
//! the opt-in traffic and latency anomaly detectors (§2.11), identity, severity, lifecycle,
//! sample traces, suspect dimensions, cause classification, next checks, alert matching and the
//! snapshot text.
//!
//! Invariant: nothing here does I/O or reads a clock. Callers (the tick, the alert intake, the
//! read API) run the SQL, fill the input rows of [`inputs`] and pass `now` explicitly, so every
//! rule is a deterministic function of its arguments and never panics on bad data.

pub mod alert_match;
pub mod anomaly;
pub mod build;
pub mod classify;
pub mod config;
pub mod detect;
pub mod dimensions;
pub mod engine;
pub mod identity;
pub mod inputs;
pub mod model;
pub mod next_checks;
pub mod snapshot;
pub mod store;

#[cfg(test)]
mod sql_tests;
