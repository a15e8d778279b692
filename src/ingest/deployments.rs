//! Deployments (spec events §5): `POST /v1/deployments` (upsert by id), `GET
//! /v1/deployments` (listing with the before/after error-rate comparison) and the automatic
//! registration of new `service.version`s seen in OTLP traffic.
//!
//! Storage: every upsert appends the deployment's whole new state as a row of
//! `deployment_versions` through the WAL (revision 1, 2, … per id); the `deployments` view
//! shows the latest revision. The [`Registry`] keeps the latest state of every id in memory
//! (loaded from the table on first use) so that an upsert can apply the merge rules without a
//! query; upserts are serialized by one async lock, so two concurrent upserts of one id never
//! both write revision n.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{
    ArrayRef, AsArray, RecordBatch, StringArray, TimestampNanosecondArray, UInt64Array,
};
use datafusion::arrow::datatypes::UInt64Type;
use serde::Serialize;
use serde_json::Value;

use crate::clock::SharedClock;
use crate::duration::parse_duration;
use crate::model::Event;
use crate::model::rejection::{ErrorClass, Rejection};
use crate::query::QueryEngine;
use crate::query::rows::{Columns, RowError, cell};
use crate::query::sql::{self, Param, ReadQuery};
use crate::rfc3339::format_rfc3339_ns;
use crate::storage::schema::{DEPLOYMENT_VERSIONS_SCHEMA, TableId};
use crate::storage::{Storage, WriteError};

pub use crate::model::deployment::Deployment;

/// One upsert request after parsing (§5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeploymentInput {
    pub id: String,
    pub service: String,
    pub env: String,
    pub version: String,
    pub metadata: BTreeMap<String, String>,
    pub commit_sha: String,
    pub pr_url: String,
    pub commit_author: String,
}

pub fn invalid_json(detail: impl Into<String>) -> Rejection {
    Rejection::new(
        ErrorClass::BadRequest,
        "INVALID_JSON",
        "invalid json",
        detail,
    )
}

/// Parse a `POST /v1/deployments` body: one JSON object, members of the right types,
/// `id`/`service`/`env` non-empty. Undefined members are ignored; `null` counts as absent.
pub fn parse_deployment(body: &[u8]) -> Result<DeploymentInput, Rejection> {
    let value: Value = serde_json::from_slice(body).map_err(|e| invalid_json(e.to_string()))?;
    let Value::Object(obj) = value else {
        return Err(invalid_json("body must be a JSON object"));
    };
    let string = |key: &str| -> Result<String, Rejection> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(invalid_json(format!("{key}: expected a string"))),
        }
    };
    let mut metadata = BTreeMap::new();
    match obj.get("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let Value::String(s) = v else {
                    return Err(invalid_json(format!("metadata.{k}: expected a string")));
                };
                if !s.is_empty() {
                    metadata.insert(k.clone(), s.clone());
                }
            }
        }
        Some(_) => return Err(invalid_json("metadata: expected an object of strings")),
    }
    let input = DeploymentInput {
        id: string("id")?,
        service: string("service")?,
        env: string("env")?,
        version: string("version")?,
        metadata,
        commit_sha: string("commit_sha")?.trim().to_string(),
        pr_url: string("pr_url")?.trim().to_string(),
        commit_author: string("commit_author")?.trim().to_string(),
    };
    if [&input.id, &input.service, &input.env]
        .iter()
        .any(|s| s.trim().is_empty())
    {
        return Err(Rejection::new(
            ErrorClass::BadRequest,
            "MISSING_FIELDS",
            "missing required fields",
            "id, service, and env are required",
        ));
    }
    Ok(input)
}

/// The §5.1 merge: a new id starts at `now`; a known id keeps `first_seen` and `service`,
/// moves `last_seen`, and takes only non-empty `version`, `metadata` and commit members.
/// A different `env` is `409 ENV_CONFLICT`.
pub fn merge(
    existing: Option<&Deployment>,
    input: DeploymentInput,
    now_ns: i64,
) -> Result<Deployment, Rejection> {
    let Some(old) = existing else {
        return Ok(Deployment {
            id: input.id,
            service: input.service,
            env: input.env,
            version: input.version,
            metadata: input.metadata,
            commit_sha: input.commit_sha,
            pr_url: input.pr_url,
            commit_author: input.commit_author,
            first_seen_ns: now_ns,
            last_seen_ns: now_ns,
            revision: 1,
        });
    };
    if old.env != input.env {
        return Err(Rejection::new(
            ErrorClass::Conflict,
            "ENV_CONFLICT",
            "env conflict",
            format!(
                "deployment {} is recorded with env {:?}, not {:?}",
                old.id, old.env, input.env
            ),
        ));
    }
    let pick = |new: String, old: &String| if new.is_empty() { old.clone() } else { new };
    Ok(Deployment {
        id: old.id.clone(),
        service: old.service.clone(),
        env: old.env.clone(),
        version: pick(input.version, &old.version),
        metadata: if input.metadata.is_empty() {
            old.metadata.clone()
        } else {
            input.metadata
        },
        commit_sha: pick(input.commit_sha, &old.commit_sha),
        pr_url: pick(input.pr_url, &old.pr_url),
        commit_author: pick(input.commit_author, &old.commit_author),
        first_seen_ns: old.first_seen_ns.min(now_ns),
        last_seen_ns: now_ns,
        revision: old.revision + 1,
    })
}

fn metadata_json(m: &BTreeMap<String, String>) -> Option<String> {
    (!m.is_empty()).then(|| serde_json::to_string(m).unwrap_or_default())
}

/// One `deployment_versions` row per deployment state.
pub fn deployments_to_batch(rows: &[Deployment]) -> Result<RecordBatch, Rejection> {
    let opt = |f: fn(&Deployment) -> &String| -> ArrayRef {
        Arc::new(
            rows.iter()
                .map(|d| Some(f(d).as_str()).filter(|s| !s.is_empty()))
                .collect::<StringArray>(),
        )
    };
    let req = |f: fn(&Deployment) -> &String| -> ArrayRef {
        Arc::new(
            rows.iter()
                .map(|d| Some(f(d).as_str()))
                .collect::<StringArray>(),
        )
    };
    let ts = |f: fn(&Deployment) -> i64| -> ArrayRef {
        Arc::new(
            TimestampNanosecondArray::from(rows.iter().map(f).collect::<Vec<_>>())
                .with_timezone("UTC"),
        )
    };
    let columns: Vec<ArrayRef> = vec![
        req(|d| &d.id),
        req(|d| &d.service),
        req(|d| &d.env),
        opt(|d| &d.version),
        Arc::new(
            rows.iter()
                .map(|d| metadata_json(&d.metadata))
                .collect::<StringArray>(),
        ),
        opt(|d| &d.commit_sha),
        opt(|d| &d.pr_url),
        opt(|d| &d.commit_author),
        ts(|d| d.first_seen_ns),
        ts(|d| d.last_seen_ns),
        Arc::new(UInt64Array::from(
            rows.iter().map(|d| d.revision).collect::<Vec<_>>(),
        )),
    ];
    RecordBatch::try_new(DEPLOYMENT_VERSIONS_SCHEMA.clone(), columns).map_err(|e| {
        tracing::error!(error = %e, "deployment batch");
        upsert_failed()
    })
}

fn upsert_failed() -> Rejection {
    Rejection::new(ErrorClass::Internal, "UPSERT_FAILED", "upsert failed", "")
}

/// Why an upsert was not made.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    /// The spec's answer: invalid body, missing fields, `ENV_CONFLICT`, `UPSERT_FAILED`.
    #[error("{0}")]
    Rejected(#[from] Rejection),
    /// The append was not made durable.
    #[error(transparent)]
    Write(WriteError),
}

/// Latest deployment states, loaded from `deployment_versions` on first use, plus the OTLP
/// version memory of §5.3.
#[derive(Debug, Default)]
pub struct Registry {
    latest: tokio::sync::Mutex<Option<HashMap<String, Deployment>>>,
    /// Last `service.version` seen per service, then env, in OTLP events since start
    /// (nested so the per-event lookup borrows instead of allocating a key).
    otlp_versions: parking_lot::Mutex<HashMap<String, HashMap<String, String>>>,
}

impl Registry {
    /// Apply `input` by the §5.1 rules and make the new state durable.
    pub async fn upsert(
        &self,
        storage: &Arc<Storage>,
        engine: &QueryEngine,
        input: DeploymentInput,
        now_ns: i64,
    ) -> Result<Deployment, DeploymentError> {
        let mut latest = self.latest.lock().await;
        if latest.is_none() {
            *latest = Some(load_latest(engine).await.map_err(|e| {
                tracing::error!(error = %e, "loading deployments");
                upsert_failed()
            })?);
        }
        let map = latest.as_mut().expect("loaded above");
        let next = merge(map.get(&input.id), input, now_ns)?;
        let batch = deployments_to_batch(std::slice::from_ref(&next))?;
        storage
            .append(TableId::DeploymentVersions, batch)
            .await
            .map_err(DeploymentError::Write)?;
        map.insert(next.id.clone(), next.clone());
        Ok(next)
    }

    /// §5.3: the upserts that the versions in `events` imply, in request order. The first
    /// sighting of a (service, env) since start registers nothing.
    pub fn observe(&self, events: &[Event]) -> Vec<DeploymentInput> {
        let mut seen = self.otlp_versions.lock();
        let mut out = Vec::new();
        for e in events {
            let Some(version) = e.version.as_deref().filter(|v| !v.is_empty()) else {
                continue;
            };
            if e.service.is_empty() {
                continue;
            }
            let known = seen.get(&e.service).and_then(|envs| envs.get(&e.env));
            if known.is_some_and(|v| v == version) {
                continue;
            }
            let first_sighting = known.is_none();
            seen.entry(e.service.clone())
                .or_default()
                .insert(e.env.clone(), version.to_string());
            if first_sighting {
                continue;
            }
            out.push(DeploymentInput {
                id: format!("otlp:{}:{}:{version}", e.service, e.env),
                service: e.service.clone(),
                env: e.env.clone(),
                version: version.to_string(),
                metadata: BTreeMap::from([("source".to_string(), "otlp".to_string())]),
                ..DeploymentInput::default()
            });
        }
        out
    }
}

/// Spawn the upserts for the OTLP events of one export (§5.3); failures are logged only and
/// the caller never waits.
pub fn register_from_otlp(
    registry: &Arc<Registry>,
    storage: Arc<Storage>,
    engine: QueryEngine,
    clock: SharedClock,
    events: &[Event],
) {
    let inputs = registry.observe(events);
    if inputs.is_empty() {
        return;
    }
    let registry = registry.clone();
    tokio::spawn(async move {
        for input in inputs {
            let id = input.id.clone();
            let now = clock.now_ns();
            if let Err(e) = registry.upsert(&storage, &engine, input, now).await {
                tracing::warn!(id, error = %e, "automatic deployment registration failed");
            }
        }
    });
}

/// Deployments from rows with the `deployment_versions` / `deployments` columns; `revision`
/// is 0 when the rows come from the view (which has none).
pub fn batch_to_deployments(b: &RecordBatch) -> Result<Vec<Deployment>, RowError> {
    let c = Columns::new(b);
    let names = [
        "id",
        "service",
        "env",
        "version",
        "metadata",
        "commit_sha",
        "pr_url",
        "commit_author",
    ];
    let cols: Vec<StringArray> = names
        .iter()
        .map(|n| c.strings(n))
        .collect::<Result<_, _>>()?;
    let (first, last) = (c.timestamps("first_seen")?, c.timestamps("last_seen")?);
    let revision = b
        .column_by_name("revision")
        .and_then(|r| r.as_primitive_opt::<UInt64Type>().cloned());
    Ok((0..b.num_rows())
        .map(|row| {
            let s = |i: usize| cell(&cols[i], row).unwrap_or_default();
            Deployment {
                id: s(0),
                service: s(1),
                env: s(2),
                version: s(3),
                metadata: serde_json::from_str(&s(4)).unwrap_or_default(),
                commit_sha: s(5),
                pr_url: s(6),
                commit_author: s(7),
                first_seen_ns: first.value(row),
                last_seen_ns: last.value(row),
                revision: revision.as_ref().map_or(0, |r| r.value(row)),
            }
        })
        .collect())
}

async fn load_latest(
    engine: &QueryEngine,
) -> Result<HashMap<String, Deployment>, Box<dyn std::error::Error + Send + Sync>> {
    let ctx = engine.context(usize::MAX).await?;
    let batches = ctx
        .sql("SELECT * FROM deployment_versions")
        .await?
        .collect()
        .await?;
    let mut map: HashMap<String, Deployment> = HashMap::new();
    for b in &batches {
        for d in batch_to_deployments(b)? {
            if map.get(&d.id).is_none_or(|old| old.revision < d.revision) {
                map.insert(d.id.clone(), d);
            }
        }
    }
    Ok(map)
}

/// The `GET /v1/deployments` answer (a struct, not `json!`: members keep their order).
#[derive(Debug, Serialize)]
pub struct Listing {
    pub deployments: Vec<ListedDeployment>,
}

/// One listed deployment (§5.2), members in the specified order.
#[derive(Debug, Serialize)]
pub struct ListedDeployment {
    pub id: String,
    pub service: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    pub env: String,
    pub first_seen: String,
    pub last_seen: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub commit_sha: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pr_url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub commit_author: String,
    pub error_rate_change: Option<Rate>,
    pub before_error_rate: Option<Rate>,
    pub after_error_rate: Option<Rate>,
    pub before_requests: u64,
    pub after_requests: u64,
}

/// A ratio printed as an integer when it is whole (`0`, not `0.0`), as the Go API does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate(pub f64);

impl Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.fract() == 0.0 && self.0.abs() < 1e15 {
            s.serialize_i64(self.0 as i64)
        } else {
            s.serialize_f64(self.0)
        }
    }
}

/// Event counts around one deployment's `first_seen`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateCounts {
    pub before: u64,
    pub before_failed: u64,
    pub after: u64,
    pub after_failed: u64,
}

/// The §5.2 comparison: rates over `max(count, 1)`; the change only with ≥ 10 events on both
/// sides and at least one failure before.
pub fn error_rates(c: RateCounts) -> (Option<Rate>, Rate, Rate) {
    let before = c.before_failed as f64 / c.before.max(1) as f64;
    let after = c.after_failed as f64 / c.after.max(1) as f64;
    let change = (c.before >= 10 && c.after >= 10 && c.before_failed > 0)
        .then(|| Rate(after / before.max(0.001)));
    (change, Rate(before), Rate(after))
}

/// §5.2 `window`: default 1h, unparsable or non-positive → default, clamped to retention.
pub fn listing_window(raw: Option<&str>, retention: Duration) -> Duration {
    let default = Duration::from_secs(3600);
    let w = raw
        .and_then(parse_duration)
        .filter(|d| !d.is_zero())
        .unwrap_or(default);
    w.min(retention)
}

/// Deployments with `first_seen` in `[lo, hi]` (and of `service` when non-empty), newest
/// first, with their error-rate comparison.
pub async fn list_deployments(
    engine: &QueryEngine,
    memory: usize,
    lo: i64,
    hi: i64,
    service: &str,
) -> Result<Vec<ListedDeployment>, Box<dyn std::error::Error + Send + Sync>> {
    let ctx = engine.context(memory).await?;
    let params = || {
        vec![
            Param::Timestamp(lo),
            Param::Timestamp(hi),
            Param::str(service),
        ]
    };
    let batches = sql::collect(&ctx, ReadQuery::DeploymentsList, params()).await?;
    // The comparison is best effort: when events cannot be read the listing still answers.
    let counts = match sql::collect(&ctx, ReadQuery::DeploymentErrorRates, params()).await {
        Ok(b) => Some(rate_counts(&b)?),
        Err(e) => {
            tracing::warn!(error = %e, "deployment error rates unavailable");
            None
        }
    };
    let mut out = Vec::new();
    for b in &batches {
        for d in batch_to_deployments(b)? {
            let (change, before_rate, after_rate, before, after) = match &counts {
                Some(m) => {
                    let k = m.get(&d.id).copied().unwrap_or_default();
                    let (change, b, a) = error_rates(k);
                    (change, Some(b), Some(a), k.before, k.after)
                }
                None => (None, None, None, 0, 0),
            };
            out.push(ListedDeployment {
                id: d.id,
                service: d.service,
                version: d.version,
                env: d.env,
                first_seen: format_rfc3339_ns(d.first_seen_ns),
                last_seen: format_rfc3339_ns(d.last_seen_ns),
                metadata: d.metadata,
                commit_sha: d.commit_sha,
                pr_url: d.pr_url,
                commit_author: d.commit_author,
                error_rate_change: change,
                before_error_rate: before_rate,
                after_error_rate: after_rate,
                before_requests: before,
                after_requests: after,
            });
        }
    }
    Ok(out)
}

/// The rows of `sql/deployment_error_rates.sql` by deployment id.
pub fn rate_counts(
    batches: &[RecordBatch],
) -> Result<HashMap<String, RateCounts>, crate::query::rows::RowError> {
    let mut m = HashMap::new();
    for b in batches {
        let c = Columns::new(b);
        let id = c.strings("id")?;
        let cols = [
            c.ints("before_requests")?,
            c.ints("before_failed")?,
            c.ints("after_requests")?,
            c.ints("after_failed")?,
        ];
        for row in 0..b.num_rows() {
            let v = |i: usize| u64::try_from(cols[i].value(row)).unwrap_or(0);
            m.insert(
                id.value(row).to_string(),
                RateCounts {
                    before: v(0),
                    before_failed: v(1),
                    after: v(2),
                    after_failed: v(3),
                },
            );
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(id: &str, env: &str, version: &str) -> DeploymentInput {
        DeploymentInput {
            id: id.into(),
            service: "payment".into(),
            env: env.into(),
            version: version.into(),
            ..Default::default()
        }
    }

    #[test]
    fn parse_accepts_the_spec_example_and_trims_commit_members() {
        let body = br#"{"id":"deploy-8812","service":"payment","env":"prod","version":"1.4.2","metadata":{"pipeline":"gha-5521"},
 "commit_sha":" 9fceb02 ","pr_url":"https://git.example/pr/412","commit_author":"dana","extra":[1]}"#;
        let d = parse_deployment(body).unwrap();
        assert_eq!(d.id, "deploy-8812");
        assert_eq!(d.commit_sha, "9fceb02");
        assert_eq!(d.metadata["pipeline"], "gha-5521");
    }

    #[test]
    fn parse_rejects_by_the_table() {
        let code = |b: &[u8]| parse_deployment(b).unwrap_err().error.code;
        assert_eq!(code(b"[1]"), "INVALID_JSON");
        assert_eq!(code(b"{"), "INVALID_JSON");
        assert_eq!(code(br#"{"id":1,"service":"a","env":"b"}"#), "INVALID_JSON");
        assert_eq!(
            code(br#"{"id":"x","service":"a","env":"b","metadata":{"k":1}}"#),
            "INVALID_JSON"
        );
        assert_eq!(code(br#"{"id":"x","service":"a"}"#), "MISSING_FIELDS");
        assert_eq!(
            code(br#"{"id":" ","service":"a","env":"b"}"#),
            "MISSING_FIELDS"
        );
    }

    #[test]
    fn merge_keeps_first_seen_service_and_non_empty_values() {
        let first = merge(None, input("d1", "prod", "1.0"), 100).unwrap();
        assert_eq!(
            (first.first_seen_ns, first.last_seen_ns, first.revision),
            (100, 100, 1)
        );
        let mut again = input("d1", "prod", "");
        again.service = "other".into();
        again.commit_sha = "abc".into();
        let second = merge(Some(&first), again, 200).unwrap();
        assert_eq!(second.service, "payment");
        assert_eq!(second.version, "1.0");
        assert_eq!(second.commit_sha, "abc");
        assert_eq!((second.first_seen_ns, second.last_seen_ns), (100, 200));
        assert_eq!(second.revision, 2);
        let err = merge(Some(&second), input("d1", "staging", ""), 300).unwrap_err();
        assert_eq!(
            (err.class, err.error.code),
            (ErrorClass::Conflict, "ENV_CONFLICT")
        );
    }

    #[test]
    fn otlp_observation_registers_only_changes_after_the_first_sighting() {
        let reg = Registry::default();
        let ev = |service: &str, version: Option<&str>| {
            let mut item = serde_json::json!({
                "schema_version": "2.0", "event_id": "e-1", "kind": "http",
                "ts_start": "2026-05-04T12:00:00Z", "ts_end": "2026-05-04T12:00:00.010Z",
                "service": service, "env": "prod", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                "status": "ok"
            });
            if let Some(v) = version {
                item["version"] = v.into();
            }
            crate::model::validate_item(&item, 1_777_896_000_000_000_000).unwrap()
        };
        assert!(reg.observe(&[ev("payment", Some("1.0"))]).is_empty());
        assert!(
            reg.observe(&[ev("payment", Some("1.0")), ev("payment", None)])
                .is_empty()
        );
        let got = reg.observe(&[ev("payment", Some("1.1")), ev("payment", Some("1.0"))]);
        let ids: Vec<_> = got.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["otlp:payment:prod:1.1", "otlp:payment:prod:1.0"]);
        assert_eq!(got[0].metadata["source"], "otlp");
    }

    #[test]
    fn error_rates_follow_the_spec() {
        let (change, b, a) = error_rates(RateCounts::default());
        assert_eq!((change, b, a), (None, Rate(0.0), Rate(0.0)));
        let (change, b, a) = error_rates(RateCounts {
            before: 40,
            before_failed: 0,
            after: 36,
            after_failed: 9,
        });
        assert_eq!((change, b, a), (None, Rate(0.0), Rate(0.25)));
        let (change, ..) = error_rates(RateCounts {
            before: 10,
            before_failed: 1,
            after: 10,
            after_failed: 5,
        });
        assert!((change.unwrap().0 - 5.0).abs() < 1e-9);
        assert_eq!(serde_json::to_string(&Rate(0.0)).unwrap(), "0");
        assert_eq!(serde_json::to_string(&Rate(0.25)).unwrap(), "0.25");
    }

    #[test]
    fn listing_window_defaults_and_clamps() {
        let r = Duration::from_secs(24 * 3600);
        assert_eq!(listing_window(None, r), Duration::from_secs(3600));
        assert_eq!(listing_window(Some("bogus"), r), Duration::from_secs(3600));
        assert_eq!(listing_window(Some("0s"), r), Duration::from_secs(3600));
        assert_eq!(listing_window(Some("1h30m"), r), Duration::from_secs(5400));
        assert_eq!(listing_window(Some("3d"), r), r);
    }
}
