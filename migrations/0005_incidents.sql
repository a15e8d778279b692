-- 0005_incidents: incidents (spec triage §2.12). Each engine tick appends every changed
-- incident as a new row of `incident_versions` through the WAL; the `incidents` view
-- (sql/incidents_view.sql) shows the highest `version` per `incident_id`. Across versions env,
-- service, error_* and started_at never change. Tables 0001-0004 unchanged.
CREATE TABLE incident_versions (
    incident_id              Utf8 NOT NULL,                 -- inc_ + 16 hex (sha256 of env|service|family|bucket)
    env                      Utf8 NOT NULL,
    service                  Utf8 NOT NULL,
    error_service            Utf8 NOT NULL,                 -- error_family.service
    error_step               Utf8 NOT NULL,                 -- error_family.step
    error_code               Utf8 NOT NULL,                 -- error_family.error_code
    status                   Utf8 NOT NULL,                 -- active | recovering | resolved
    cause                    Utf8 NOT NULL,                 -- deploy | dependency | runtime | app | unknown
    confidence               Utf8 NOT NULL,                 -- high | medium | low
    severity                 Int64 NOT NULL,                -- 1..10
    started_at               Timestamp(ns, "UTC") NOT NULL,
    updated_at               Timestamp(ns, "UTC") NOT NULL,
    last_seen_at             Timestamp(ns, "UTC") NOT NULL,
    recovering_at            Timestamp(ns, "UTC"),
    resolved_at              Timestamp(ns, "UTC"),
    affected_requests        Int64 NOT NULL,
    affected_services        Int64 NOT NULL,
    affected_users           Int64,                         -- null when 0
    top_services             List(Utf8) NOT NULL,
    sample_traces            List(Utf8) NOT NULL,
    evidence_json            Utf8 NOT NULL,                 -- compact JSON array of Evidence
    next_checks              List(Utf8) NOT NULL,
    instrumentation_warnings List(Utf8) NOT NULL,
    lift                     Float64 NOT NULL,
    baseline_count           Int64 NOT NULL,
    current_count            Int64 NOT NULL,
    suspect_deploy_id        Utf8,                          -- null when empty; never returns to empty
    propagation_json         Utf8,                          -- compact JSON snapshot; null until captured
    blast_json               Utf8,
    alerts_json              Utf8,
    runtime_json             Utf8,
    suspect_dimensions_json  Utf8,
    version                  UInt64 NOT NULL,               -- 1, 2, ... per incident_id
    written_at               Timestamp(ns, "UTC") NOT NULL  -- engine clock at the tick
);

-- CREATE VIEW incidents AS <sql/incidents_view.sql>: the incident_versions columns of the
-- highest version per incident_id.
