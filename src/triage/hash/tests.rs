use serde_json::Value;

use super::*;
use crate::triage::report::{SampleTrace, SignalRef};

/// The §6.3 vector: report, canonical form, hash.
const VECTOR_REPORT: &str = r#"{"schema_version":"triage.v1","incident_ref":{"id":"inc_eee7eabe9bda8b24","window":"15m0s"},"blast_snapshot":{"requests":12,"users":0,"services":3,"top_error_families":[{"service":"checkout","step":"payment.charge","error_code":"PMT_502","count":12}]},"sample_traces":[{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","summary":"checkout/payment.charge → payment.charge"}],"confidence":"high","generated_at":"2026-05-04T12:10:30.5Z"}"#;
const VECTOR_CANONICAL: &str = r#"{"blast_snapshot":{"requests":12,"services":3,"top_error_families":[{"count":12,"error_code":"PMT_502","service":"checkout","step":"payment.charge"}],"users":0},"confidence":"high","incident_ref":{"id":"inc_eee7eabe9bda8b24","window":"15m0s"},"sample_traces":[{"summary":"checkout/payment.charge → payment.charge","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}],"schema_version":"triage.v1"}"#;
const VECTOR_HASH: &str = "sha256:ebeda7ae51431675a02515b906838dae0aa146684ea9956b3b8208193d6aa84c";
const VECTOR_FINGERPRINT: &str =
    "sha256:7fd32f8787bdf7eecd376231a3896641525d4f2e9f5fd65a251dde6b0c3ee463";

fn vector_report() -> TriageReport {
    let mut v: Value = serde_json::from_str(VECTOR_REPORT).expect("vector json");
    let map = v.as_object_mut().expect("object");
    map.insert("report_hash".into(), "sha256:stale".into());
    map.insert("evidence_fingerprint".into(), "sha256:stale".into());
    serde_json::from_value(v).expect("vector is a report")
}

#[test]
fn spec_vector_report_hash() {
    let r = vector_report();
    let mut v = serde_json::to_value(&r).expect("value");
    for key in UNHASHED {
        v.as_object_mut().expect("object").remove(key);
    }
    // The report emits exactly the vector's JSON, and canonicalizes to its canonical form.
    let mut emitted: Value = serde_json::from_str(VECTOR_REPORT).expect("json");
    emitted
        .as_object_mut()
        .expect("object")
        .remove("generated_at");
    assert_eq!(v, emitted);
    assert_eq!(jcs::canonicalize(&v).expect("canonical"), VECTOR_CANONICAL);
    assert_eq!(report_hash(&r).expect("hash"), VECTOR_HASH);
}

#[test]
fn spec_vector_evidence_fingerprint() {
    assert_eq!(evidence_fingerprint(&vector_report()), VECTOR_FINGERPRINT);
}

#[test]
fn build_time_and_hash_fields_do_not_change_the_hash() {
    let mut r = vector_report();
    r.generated_at = "2030-01-01T00:00:00Z".into();
    r.report_hash = "sha256:other".into();
    r.evidence_fingerprint = "sha256:other".into();
    r.plan_run_id = Some("plan_1".into());
    assert_eq!(report_hash(&r).expect("hash"), VECTOR_HASH);
}

#[test]
fn material_changes_change_both_hashes() {
    let mut r = vector_report();
    r.signals.push(SignalRef {
        id: "sig_1".into(),
        kind: "dependency".into(),
        evidence_ids: vec!["sig_1".into()],
    });
    assert_ne!(report_hash(&r).expect("hash"), VECTOR_HASH);
    assert_ne!(evidence_fingerprint(&r), VECTOR_FINGERPRINT);

    // A count that moves changes the hash but not the fingerprint.
    let mut r = vector_report();
    r.blast_snapshot.requests = 13;
    assert_ne!(report_hash(&r).expect("hash"), VECTOR_HASH);
    assert_eq!(evidence_fingerprint(&r), VECTOR_FINGERPRINT);
}

#[test]
fn fingerprint_skips_empty_ids_and_deduplicates() {
    let mut r = vector_report();
    let again = r.sample_traces[0].clone();
    r.sample_traces.push(again);
    r.sample_traces.push(SampleTrace {
        trace_id: String::new(),
        summary: String::new(),
    });
    assert_eq!(evidence_fingerprint(&r), VECTOR_FINGERPRINT);
}
