use super::*;

const T0: i64 = 1_777_896_180_000_000_000; // 2026-05-04T12:03:00Z

fn sample() -> Incident {
    Incident::skeleton(
        "inc_eee7eabe9bda8b24".into(),
        "prod".into(),
        ErrorFamily::new("checkout", "payment.charge", "PMT_502"),
        T0,
        T0 + 42_000_000,
    )
}

/// Top-level keys of a JSON object in document order.
fn keys(text: &str) -> Vec<String> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some((k, _)) = map.next_entry::<String, de::IgnoredAny>()? {
                out.push(k);
            }
            Ok(out)
        }
    }
    let mut d = serde_json::Deserializer::from_str(text);
    d.deserialize_map(V).unwrap()
}

#[test]
fn time_formats_trim_fraction_and_truncate_text() {
    assert_eq!(json_time(T0), "2026-05-04T12:03:00Z");
    assert_eq!(json_time(T0 + 42_000_000), "2026-05-04T12:03:00.042Z");
    assert_eq!(text_time(T0 + 999_999_999), "2026-05-04T12:03:00Z");
    assert_eq!(text_time(-1), "1969-12-31T23:59:59Z");
}

#[test]
fn short_cuts_at_twelve_bytes_with_ellipsis() {
    assert_eq!(short("abc"), "abc");
    assert_eq!(short("123456789012"), "123456789012");
    assert_eq!(short("1234567890123"), "123456789012…");
    assert_eq!(short(""), "");
    // 11 ASCII bytes then a 2-byte char straddling byte 12.
    assert_eq!(short("12345678901éx"), "12345678901…");
}

#[test]
fn incident_json_key_order_and_omissions() {
    let inc = sample();
    let text = serde_json::to_string(&inc).unwrap();
    assert!(text.starts_with(
        "{\"incident_id\":\"inc_eee7eabe9bda8b24\",\"env\":\"prod\",\"service\":\"checkout\",\
         \"error_family\":{\"service\":\"checkout\",\"step\":\"payment.charge\",\"error_code\":\"PMT_502\"},\
         \"status\":\"active\",\"cause\":\"unknown\",\"confidence\":\"low\",\"severity\":1,\
         \"started_at\":\"2026-05-04T12:03:00Z\",\"updated_at\":\"2026-05-04T12:03:00.042Z\""
    ), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        keys(&text),
        [
            "incident_id",
            "env",
            "service",
            "error_family",
            "status",
            "cause",
            "confidence",
            "severity",
            "started_at",
            "updated_at",
            "last_seen_at",
            "affected_requests",
            "affected_services",
            "affected_users",
            "top_services",
            "sample_traces",
            "evidence",
            "next_checks",
            "lift",
            "baseline_count",
            "current_count",
        ]
    );
    assert!(v["affected_users"].is_null());
    assert_eq!(v["top_services"], serde_json::json!([]));
    assert_eq!(v["lift"].to_string(), "0");
}

#[test]
fn incident_json_includes_set_optionals_in_order() {
    let mut inc = sample();
    inc.recovering_at = Some(T0 + 60_000_000_000);
    inc.resolved_at = Some(T0 + 120_000_000_000);
    inc.affected_users = 8;
    inc.instrumentation_warnings = vec!["partial_trace".into()];
    inc.suspect_deploy_id = "dep-1".into();
    inc.lift = 1.2;
    inc.runtime = Some(RuntimeSnapshot::record(None, vec![]));
    inc.blast = Some(Snapshot::record(
        None,
        BlastCapture {
            affected_requests: 0,
            affected_users: 0,
            affected_services: 0,
            top_services: vec![],
            sampled_traces: vec![],
            captured_at: T0,
            capture_status: CaptureStatus::Missing,
        },
    ));
    let text = serde_json::to_string(&inc).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let k = keys(&text);
    let pos = |name: &str| k.iter().position(|x| x == name).unwrap();
    assert!(pos("last_seen_at") < pos("recovering_at"));
    assert!(pos("recovering_at") < pos("resolved_at"));
    assert!(pos("resolved_at") < pos("affected_requests"));
    assert!(pos("next_checks") < pos("instrumentation_warnings"));
    assert!(pos("instrumentation_warnings") < pos("lift"));
    assert!(pos("current_count") < pos("suspect_deploy_id"));
    assert!(pos("suspect_deploy_id") < pos("blast"));
    assert!(pos("blast") < pos("runtime"));
    assert_eq!(v["affected_users"], 8);
    assert_eq!(v["lift"].to_string(), "1.2");
    assert_eq!(
        serde_json::to_string(&inc.blast).unwrap(),
        "{\"latest\":{\"affected_requests\":0,\"affected_services\":0,\"top_services\":[],\
         \"sampled_traces\":[],\"captured_at\":\"2026-05-04T12:03:00Z\",\"capture_status\":\"missing\"}}"
    );
    assert!(text.contains("\"runtime\":{\"matches\":[]}"));
    let back: Incident = serde_json::from_str(&text).unwrap();
    assert_eq!(back, inc);
}

#[test]
fn evidence_omits_empty_members_and_keeps_field_order() {
    let mut e = Evidence::new(EvidenceKind::Signal, "Dependency payment: x", T0);
    e.service = "payment".into();
    e.signal_id = "sig_1".into();
    e.fields = Fields::new()
        .with("type", "dependency")
        .with("severity", "critical")
        .with("current", 12i64)
        .with("ratio", 0.5);
    let text = serde_json::to_string(&e).unwrap();
    assert_eq!(
        text,
        "{\"kind\":\"signal\",\"title\":\"Dependency payment: x\",\"service\":\"payment\",\
         \"signal_id\":\"sig_1\",\"occurred_at\":\"2026-05-04T12:03:00Z\",\"fields\":\
         {\"type\":\"dependency\",\"severity\":\"critical\",\"current\":12,\"ratio\":0.5}}"
    );
    let back: Evidence = serde_json::from_str(&text).unwrap();
    assert_eq!(back, e);
    let bare = Evidence::new(EvidenceKind::Trace, "t", T0);
    assert_eq!(
        serde_json::to_string(&bare).unwrap(),
        "{\"kind\":\"trace\",\"title\":\"t\",\"occurred_at\":\"2026-05-04T12:03:00Z\"}"
    );
}

#[test]
fn field_values_are_written_bare_with_integral_numbers_as_integers() {
    let f = Fields::new()
        .with("s", "x")
        .with("i", -3i64)
        .with("whole", 12.0)
        .with("frac", 0.25)
        .with("big", 1e300);
    assert_eq!(
        serde_json::to_string(&f).unwrap(),
        "{\"s\":\"x\",\"i\":-3,\"whole\":12,\"frac\":0.25,\"big\":1e+300}"
    );
    assert_eq!(serde_json::to_string(&Fields::new()).unwrap(), "{}");
}

#[test]
fn matched_alert_json_shape() {
    let m = MatchedAlert {
        signal_id: "sig_a".into(),
        alert_id: String::new(),
        source: "grafana".into(),
        severity: "critical".into(),
        reason: "r".into(),
        provider_url: "https://x".into(),
        evidence_ids: vec!["sig_a".into()],
        matched_at: T0,
        strategy: MatchStrategy::Family,
    };
    assert_eq!(
        serde_json::to_string(&m).unwrap(),
        "{\"signal_id\":\"sig_a\",\"source\":\"grafana\",\"severity\":\"critical\",\"reason\":\"r\",\
         \"provider_url\":\"https://x\",\"evidence_ids\":[\"sig_a\"],\
         \"matched_at\":\"2026-05-04T12:03:00Z\",\"strategy\":\"family\"}"
    );
}

fn blast(status: CaptureStatus, requests: i64) -> BlastCapture {
    BlastCapture {
        affected_requests: requests,
        affected_users: 0,
        affected_services: 1,
        top_services: vec![],
        sampled_traces: vec![],
        captured_at: T0,
        capture_status: status,
    }
}

#[test]
fn snapshot_opening_is_first_ok_capture_and_never_changes() {
    let s = Snapshot::record(None, blast(CaptureStatus::Missing, 0));
    assert!(s.opening.is_none());
    let s = Snapshot::record(Some(s), blast(CaptureStatus::Ok, 3));
    assert_eq!(s.opening.as_ref().unwrap().affected_requests, 3);
    let s = Snapshot::record(Some(s), blast(CaptureStatus::Ok, 9));
    assert_eq!(s.opening.as_ref().unwrap().affected_requests, 3);
    assert_eq!(s.latest.as_ref().unwrap().affected_requests, 9);
}

fn rt(id: &str, at: i64) -> RuntimeMatch {
    RuntimeMatch {
        subtype: String::new(),
        service: "checkout".into(),
        reason: "panic".into(),
        severity: "critical".into(),
        source: "k8s".into(),
        signal_id: id.into(),
        occurred_at: at,
        metadata: Some(RawJson("{\"subtype\":\"panic\",\"b\":1}".into())),
        captured_at: T0,
        capture_status: CaptureStatus::Ok,
    }
}

#[test]
fn runtime_snapshot_tracks_earliest_and_latest_ever_seen() {
    let s = RuntimeSnapshot::record(None, vec![]);
    assert!(s.opening.is_none() && s.latest.is_none());
    let s = RuntimeSnapshot::record(Some(s), vec![rt("b", 20), rt("a", 10)]);
    assert_eq!(s.opening.as_ref().unwrap().signal_id, "a");
    assert_eq!(s.latest.as_ref().unwrap().signal_id, "b");
    // Ties keep the stored one; an empty R keeps both.
    let s = RuntimeSnapshot::record(Some(s), vec![rt("c", 10), rt("d", 20)]);
    assert_eq!(s.opening.as_ref().unwrap().signal_id, "a");
    assert_eq!(s.latest.as_ref().unwrap().signal_id, "b");
    let s = RuntimeSnapshot::record(Some(s), vec![]);
    assert!(s.matches.is_empty());
    assert_eq!(s.latest.as_ref().unwrap().signal_id, "b");
    let text = serde_json::to_string(&s.latest).unwrap();
    assert!(
        text.contains("\"metadata\":{\"subtype\":\"panic\",\"b\":1}"),
        "{text}"
    );
    let back: RuntimeMatch = serde_json::from_str(&text).unwrap();
    assert_eq!(back, rt("b", 20));
}

#[test]
fn numbers_are_shortest_form() {
    let d = SuspectDimension {
        dimension: "version".into(),
        value: "2.4.1".into(),
        failing_count: 12,
        failing_share: 1.0,
        baseline_count: 10,
        baseline_share: 0.0333,
        score: 0.9667,
    };
    assert_eq!(
        serde_json::to_string(&d).unwrap(),
        "{\"dimension\":\"version\",\"value\":\"2.4.1\",\"failing_count\":12,\"failing_share\":1,\
         \"baseline_count\":10,\"baseline_share\":0.0333,\"score\":0.9667}"
    );
}

#[test]
fn bad_stored_time_is_an_error_not_a_panic() {
    let r: Result<Evidence, _> =
        serde_json::from_str("{\"kind\":\"trace\",\"title\":\"t\",\"occurred_at\":\"nope\"}");
    assert!(r.is_err());
}
