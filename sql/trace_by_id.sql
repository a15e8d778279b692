-- trace_by_id: every retained event of one trace (spec reads §4.1 trace mode, §4.2), from
-- `trace_lookup`: the events table read through the trace indexes that exist (a few pages per
-- cold file instead of a row group per bloom-filter hit), registered by the caller for $1.
--
-- Parameters:
--   $1  Utf8  trace_id
--
-- Output: the stored event columns (event_id ... errors, fields) that rebuild a WideEvent
-- Order: ts_start, service, event_id (identity order), then ts_end.
SELECT event_id, trace_id, span_id, parent_span_id, ts_start, ts_end, duration_ms, kind,
       service, env, status, version, anchor_step, anchor_error_code, anchor_kind,
       steps, logs, errors, fields
FROM trace_lookup
WHERE trace_id = $1
ORDER BY ts_start, service, event_id, ts_end
