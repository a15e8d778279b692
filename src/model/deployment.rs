//! Deployments (spec events §5): the latest state of one deployment id, as
//! `POST /v1/deployments` and the OTLP version registration write it
//! (`crate::ingest::deployments`, one `deployment_versions` row per state) and as the listing
//! and the incident engine read it back (the `deployments` view): one type for all of them.

use std::collections::BTreeMap;

/// The latest state of one deployment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Deployment {
    pub id: String,
    pub service: String,
    pub env: String,
    pub version: String,
    pub metadata: BTreeMap<String, String>,
    pub commit_sha: String,
    pub pr_url: String,
    pub commit_author: String,
    pub first_seen_ns: i64,
    pub last_seen_ns: i64,
    pub revision: u64,
}
