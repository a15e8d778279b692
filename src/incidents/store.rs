//! Incidents as rows of `incident_versions` (spec triage §2.12) and back. Evidence and the
//! snapshots are stored as compact JSON of the model types, lists as `List<Utf8>`, so a row
//! read back gives the identical [`Incident`] (a test round-trips one).

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, ListBuilder, RecordBatch, StringArray,
    StringBuilder, TimestampNanosecondArray, UInt64Array,
};
use datafusion::arrow::datatypes::UInt64Type;
use datafusion::arrow::error::ArrowError;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::model::{Cause, Confidence, ErrorFamily, Incident, Status};
use crate::query::rows::{Columns, RowError};
use crate::storage::schema::INCIDENT_VERSIONS_SCHEMA;

/// One stored version of an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredIncident {
    pub incident: Incident,
    pub version: u64,
    pub written_at_ns: i64,
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn opt_json<T: Serialize>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(json)
}

fn list(rows: &[StoredIncident], f: impl Fn(&Incident) -> &Vec<String>) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new());
    for r in rows {
        for s in f(&r.incident) {
            b.values().append_value(s);
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

/// `incident_versions` rows for `rows`, in order.
pub fn incidents_to_batch(rows: &[StoredIncident]) -> Result<RecordBatch, ArrowError> {
    let strs = |f: &dyn Fn(&Incident) -> Option<String>| -> ArrayRef {
        Arc::new(rows.iter().map(|r| f(&r.incident)).collect::<StringArray>())
    };
    let ints = |f: &dyn Fn(&Incident) -> Option<i64>| -> ArrayRef {
        Arc::new(rows.iter().map(|r| f(&r.incident)).collect::<Int64Array>())
    };
    let times = |f: &dyn Fn(&StoredIncident) -> Option<i64>| -> ArrayRef {
        Arc::new(
            rows.iter()
                .map(f)
                .collect::<TimestampNanosecondArray>()
                .with_timezone("UTC"),
        )
    };
    let s = |v: &str| Some(v.to_string());
    let columns: Vec<ArrayRef> = vec![
        strs(&|i| s(&i.incident_id)),
        strs(&|i| s(&i.env)),
        strs(&|i| s(&i.service)),
        strs(&|i| s(&i.error_family.service)),
        strs(&|i| s(&i.error_family.step)),
        strs(&|i| s(&i.error_family.error_code)),
        strs(&|i| s(i.status.as_str())),
        strs(&|i| s(i.cause.as_str())),
        strs(&|i| s(i.confidence.as_str())),
        ints(&|i| Some(i.severity)),
        times(&|r| Some(r.incident.started_at)),
        times(&|r| Some(r.incident.updated_at)),
        times(&|r| Some(r.incident.last_seen_at)),
        times(&|r| r.incident.recovering_at),
        times(&|r| r.incident.resolved_at),
        ints(&|i| Some(i.affected_requests)),
        ints(&|i| Some(i.affected_services)),
        ints(&|i| Some(i.affected_users).filter(|n| *n != 0)),
        list(rows, |i| &i.top_services),
        list(rows, |i| &i.sample_traces),
        strs(&|i| Some(json(&i.evidence))),
        list(rows, |i| &i.next_checks),
        list(rows, |i| &i.instrumentation_warnings),
        Arc::new(
            rows.iter()
                .map(|r| r.incident.lift)
                .collect::<Float64Array>(),
        ),
        ints(&|i| Some(i.baseline_count)),
        ints(&|i| Some(i.current_count)),
        strs(&|i| Some(i.suspect_deploy_id.clone()).filter(|s| !s.is_empty())),
        strs(&|i| opt_json(&i.propagation)),
        strs(&|i| opt_json(&i.blast)),
        strs(&|i| opt_json(&i.alerts)),
        strs(&|i| opt_json(&i.runtime)),
        strs(&|i| opt_json(&i.suspect_dimensions)),
        Arc::new(rows.iter().map(|r| r.version).collect::<UInt64Array>()),
        times(&|r| Some(r.written_at_ns)),
    ];
    RecordBatch::try_new(INCIDENT_VERSIONS_SCHEMA.clone(), columns)
}

fn parse_json<T: DeserializeOwned>(
    text: Option<String>,
    name: &str,
    row: usize,
) -> Result<Option<T>, RowError> {
    match text {
        None => Ok(None),
        Some(t) => serde_json::from_str(&t)
            .map(Some)
            .map_err(|source| RowError::Json {
                name: name.into(),
                row,
                source,
            }),
    }
}

fn bad_enum(name: &str, row: usize) -> RowError {
    RowError::UnexpectedNull {
        name: format!("{name} (unknown value)"),
        row,
    }
}

/// Incidents back from rows with the `incident_versions` columns (the table or the view).
pub fn batch_to_incidents(batch: &RecordBatch) -> Result<Vec<StoredIncident>, RowError> {
    let c = Columns::new(batch);
    let names = [
        "incident_id",
        "env",
        "service",
        "error_service",
        "error_step",
        "error_code",
        "status",
        "cause",
        "confidence",
        "evidence_json",
        "suspect_deploy_id",
        "propagation_json",
        "blast_json",
        "alerts_json",
        "runtime_json",
        "suspect_dimensions_json",
    ];
    let strs: Vec<StringArray> = names
        .iter()
        .map(|n| c.strings(n))
        .collect::<Result<_, _>>()?;
    let int_names = [
        "severity",
        "affected_requests",
        "affected_services",
        "affected_users",
        "baseline_count",
        "current_count",
    ];
    let ints: Vec<Int64Array> = int_names
        .iter()
        .map(|n| c.ints(n))
        .collect::<Result<_, _>>()?;
    let time_names = [
        "started_at",
        "updated_at",
        "last_seen_at",
        "recovering_at",
        "resolved_at",
        "written_at",
    ];
    let times: Vec<TimestampNanosecondArray> = time_names
        .iter()
        .map(|n| c.timestamps(n))
        .collect::<Result<_, _>>()?;
    let lift = c.floats("lift")?;
    let version = batch
        .column_by_name("version")
        .ok_or_else(|| RowError::MissingColumn {
            name: "version".into(),
        })?
        .as_primitive_opt::<UInt64Type>()
        .ok_or_else(|| RowError::MissingColumn {
            name: "version (UInt64)".into(),
        })?
        .clone();
    let mut out = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let s = |i: usize| {
            strs[i]
                .is_valid(row)
                .then(|| strs[i].value(row).to_string())
        };
        let req = |i: usize| s(i).unwrap_or_default();
        let t = |i: usize| times[i].is_valid(row).then(|| times[i].value(row));
        let n = |i: usize| {
            if ints[i].is_valid(row) {
                ints[i].value(row)
            } else {
                0
            }
        };
        let incident = Incident {
            incident_id: req(0),
            env: req(1),
            service: req(2),
            error_family: ErrorFamily {
                service: req(3),
                step: req(4),
                error_code: req(5),
            },
            status: Status::parse(&req(6)).ok_or_else(|| bad_enum("status", row))?,
            cause: Cause::parse(&req(7)).ok_or_else(|| bad_enum("cause", row))?,
            confidence: Confidence::parse(&req(8)).ok_or_else(|| bad_enum("confidence", row))?,
            severity: n(0),
            started_at: t(0).unwrap_or_default(),
            updated_at: t(1).unwrap_or_default(),
            last_seen_at: t(2).unwrap_or_default(),
            recovering_at: t(3),
            resolved_at: t(4),
            affected_requests: n(1),
            affected_services: n(2),
            affected_users: n(3),
            top_services: c.string_list("top_services", row)?,
            sample_traces: c.string_list("sample_traces", row)?,
            evidence: parse_json(s(9), "evidence_json", row)?.unwrap_or_default(),
            next_checks: c.string_list("next_checks", row)?,
            instrumentation_warnings: c.string_list("instrumentation_warnings", row)?,
            lift: lift.value(row),
            baseline_count: n(4),
            current_count: n(5),
            suspect_deploy_id: req(10),
            propagation: parse_json(s(11), "propagation_json", row)?,
            blast: parse_json(s(12), "blast_json", row)?,
            alerts: parse_json(s(13), "alerts_json", row)?,
            runtime: parse_json(s(14), "runtime_json", row)?,
            suspect_dimensions: parse_json(s(15), "suspect_dimensions_json", row)?,
        };
        out.push(StoredIncident {
            incident,
            version: version.value(row),
            written_at_ns: t(5).unwrap_or_default(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incidents::model::{BlastCapture, CaptureStatus, Evidence, EvidenceKind, Snapshot};

    fn sample() -> Incident {
        let family = ErrorFamily {
            service: "checkout".into(),
            step: "payment.charge".into(),
            error_code: "PMT_502".into(),
        };
        let mut inc = Incident::skeleton(
            "inc_eee7eabe9bda8b24".into(),
            "prod".into(),
            family,
            1_000,
            2_000,
        );
        inc.top_services = vec!["checkout".into(), "payment".into()];
        inc.sample_traces = vec!["t1".into()];
        inc.next_checks = vec!["Inspect sampled trace `t1`.".into()];
        inc.lift = 12.5;
        inc.affected_users = 3;
        inc.recovering_at = Some(3_000);
        inc.suspect_deploy_id = "deploy-1".into();
        inc.evidence = vec![Evidence {
            kind: EvidenceKind::Trace,
            title: "First failing trace sample".into(),
            detail: String::new(),
            service: "checkout".into(),
            signal_id: String::new(),
            deployment_id: String::new(),
            trace_id: "t1".into(),
            occurred_at: 1_000,
            fields: Default::default(),
        }];
        inc.blast = Some(Snapshot {
            opening: None,
            latest: Some(BlastCapture {
                affected_requests: 4,
                affected_users: 0,
                affected_services: 2,
                top_services: vec!["checkout".into()],
                sampled_traces: vec!["t1".into()],
                captured_at: 2_000,
                capture_status: CaptureStatus::Ok,
            }),
        });
        inc
    }

    #[test]
    fn incidents_round_trip_through_rows() {
        let rows = vec![
            StoredIncident {
                incident: sample(),
                version: 3,
                written_at_ns: 5_000,
            },
            StoredIncident {
                incident: Incident::skeleton(
                    "inc_2".into(),
                    "".into(),
                    ErrorFamily {
                        service: "a".into(),
                        step: "".into(),
                        error_code: "E".into(),
                    },
                    1,
                    1,
                ),
                version: 1,
                written_at_ns: 1,
            },
        ];
        let batch = incidents_to_batch(&rows).unwrap();
        let back = batch_to_incidents(&batch).unwrap();
        assert_eq!(back, rows);
    }
}
