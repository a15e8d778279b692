-- 0002_signals: adds the `signals` table (production context facts: deploys, runtime events,
-- dependency health, ...), spec triage §1.6. `events` is unchanged from 0001.
-- Types are Arrow types as DataFusion prints them; JSON columns hold compact JSON text as sent.
CREATE TABLE signals (
    signal_id         Utf8 NOT NULL,            -- sig_ + 32 lower-case hex, server-owned
    type              Utf8 NOT NULL,            -- deploy | runtime | healthcheck | dependency | config | alert
    source            Utf8 NOT NULL,
    service           Utf8 NOT NULL,
    env               Utf8 NOT NULL,
    severity          Utf8 NOT NULL,            -- info | warning | critical
    reason            Utf8 NOT NULL,
    message           Utf8,                     -- null when empty
    resource          Utf8,                     -- compact JSON; null when absent, null or {}
    metadata          Utf8,                     -- compact JSON; null when absent, null or {}
    extra             Utf8,                     -- compact JSON object of unknown top-level keys
    meta_version      Utf8,                     -- metadata.<key> when a non-empty string
    meta_subtype      Utf8,
    meta_error_code   Utf8,
    meta_step         Utf8,
    meta_downstream   Utf8,
    meta_incident_id  Utf8,
    meta_trace_id     Utf8,
    meta_alert_id     Utf8,
    meta_provider_url Utf8,
    timestamp         Timestamp(ns, "UTC") NOT NULL,
    received_at       Timestamp(ns, "UTC") NOT NULL
);
