//! TriageReport v1 (spec triage §6): the report an on-call engineer pastes into Slack,
//! PagerDuty or a postmortem, built from the stored incident and live SQL reads over hot +
//! cold, hashed so the same state always gives the same `report_hash`.
//! - [`report`]: the report's types, in emission order (§6.1);
//! - [`build`]: `build(incident_id, window, snapshot)` (§6.2) over one storage snapshot;
//! - [`hash`]: `report_hash` and `evidence_fingerprint` (§6.3) over [`jcs`], the RFC 8785
//!   canonical JSON;
//! - [`render`]: Markdown, Slack Block Kit and PagerDuty text (§6.5), pure functions of a
//!   report.
//!
//! The HTTP routes live in `src/api/triage.rs`, the CLI verb in `src/cli/verbs.rs`; the agent
//! tools will call [`build::build`] too, so every surface gives the same hash.

pub mod build;
pub mod hash;
pub mod jcs;
pub mod render;
pub mod report;
