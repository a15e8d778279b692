-- 0004_alerts: one row per alert accepted by POST /v1/alerts (spec triage §7.6). The alert
-- itself is an `alert` signal in `signals` (same signal_id, written in the same WAL commit);
-- join on signal_id for service, env, severity, reason, metadata.
CREATE TABLE alerts (
    signal_id         Utf8 NOT NULL,
    received_at       Timestamp(ns, "UTC") NOT NULL,
    format            Utf8 NOT NULL,                 -- waylog | alertmanager | grafana | pagerduty
    alert_id          Utf8,
    alert_status      Utf8,                          -- firing | resolved | incident.triggered ...
    fingerprint       Utf8,
    matched           Boolean NOT NULL,              -- intake match (spec triage §7.6)
    match_incident_id Utf8,
    match_strategy    Utf8 NOT NULL,                 -- incident_id | trace_id | family | none
    timestamp         Timestamp(ns, "UTC") NOT NULL  -- the signal's timestamp: pruned with it
);
