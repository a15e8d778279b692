-- 0001_events: the `events` table, schema version 1 (first release).
-- One row per wide event (one service hop of one request); spec reads §1.7.
-- Types are Arrow types as DataFusion prints them. Nested columns keep the event's arrays in
-- the order sent. The version is stamped into every Parquet file as `waylog.schema_version`.
-- Append-only: a released migration is never edited; a change adds 0002_*.sql.
CREATE TABLE events (
    event_id          Utf8 NOT NULL,            -- as sent; the idempotency key
    trace_id          Utf8 NOT NULL,            -- 32 lower-case hex
    span_id           Utf8 NOT NULL,            -- 16 lower-case hex or ''
    parent_span_id    Utf8 NOT NULL,            -- 16 lower-case hex or '' (root event)
    ts_start          Timestamp(ns, "UTC") NOT NULL,
    ts_end            Timestamp(ns, "UTC") NOT NULL,
    duration_ms       Int64 NOT NULL,           -- 0 when absent
    kind              Utf8 NOT NULL,            -- http | rpc
    service           Utf8 NOT NULL,
    env               Utf8 NOT NULL,
    status            Utf8 NOT NULL,            -- ok | error | timeout | partial | aborted | suppressed
    version           Utf8,
    anchor_step       Utf8,                     -- null without anchor
    anchor_error_code Utf8,
    anchor_kind       Utf8,                     -- null without anchor or when unset
    http_method       Utf8,                     -- fields.http.method when a string
    http_route        Utf8,                     -- fields.http.route, or <rpc.service>/<rpc.method> for rpc events
    http_status       Int64,                    -- fields.http.status when an integer
    user_id           Utf8,                     -- fields.user.id when a non-empty string
    user_tier         Utf8,
    user_region       Utf8,
    steps             List(Struct(name Utf8 NOT NULL, span_id Utf8, start_ms Int64 NOT NULL, duration_ms Int64 NOT NULL, status Utf8 NOT NULL, downstream Struct(service Utf8, endpoint Utf8, kind Utf8), error Struct(code Utf8, reason Utf8, cause Utf8))) NOT NULL,
    logs              List(Struct(ts_offset_ms Int64 NOT NULL, level Utf8 NOT NULL, msg Utf8 NOT NULL, fields Utf8)) NOT NULL,  -- fields: compact JSON
    errors            List(Struct(code Utf8 NOT NULL, reason Utf8)) NOT NULL,
    fields            Utf8                      -- compact JSON of the whole fields object, keys byte-ordered
);
