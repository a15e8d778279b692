//! The incident engine (spec triage §2-§5, §7.4, §7.6). Two halves:
//! - the rules, pure functions of their inputs: detection contract, the opt-in traffic and
//!   latency anomaly detectors (§2.11), identity, severity, lifecycle, sample traces, suspect
//!   dimensions, cause classification, next checks, alert matching and the snapshot text
//!   ([`detect`], [`anomaly`], [`identity`], [`build`], [`classify`], [`next_checks`],
//!   [`alert_match`], [`snapshot`]). They do no I/O and read no clock: `now` and the input
//!   rows of [`inputs`] are passed in, so every rule is deterministic and never panics on bad
//!   data;
//! - the I/O around them: the tick ([`engine`]: runs the SQL over hot + cold, applies the
//!   rules, appends changed incidents as `incident_versions` rows through the WAL), the
//!   stored incidents ([`store`]), their reads ([`read`]), the dimension summaries
//!   ([`dimensions`]) and the intake match of new alerts ([`intake`]).

pub mod alert_match;
pub mod anomaly;
pub mod build;
pub mod classify;
pub mod detect;
pub mod dimensions;
pub mod engine;
pub mod identity;
pub mod inputs;
pub mod intake;
pub mod model;
pub mod next_checks;
pub mod read;
pub mod snapshot;
pub mod store;

#[cfg(test)]
mod sql_tests;
