-- event_by_id: one stored event by id (spec reads §4.1 event mode, §4.4). A re-send after
-- the dedup horizon can store two rows with the id: the earliest ts_start, then the earliest
-- ts_end wins.
--
-- Parameters:
--   $1  Utf8  event_id
--
-- Output: the stored event columns (event_id ... errors, fields) that rebuild a WideEvent
-- Order: ts_start, ts_end, service, trace_id; at most one row.
SELECT event_id, trace_id, span_id, parent_span_id, ts_start, ts_end, duration_ms, kind,
       service, env, status, version, anchor_step, anchor_error_code, anchor_kind,
       steps, logs, errors, fields
FROM events
WHERE event_id = $1
ORDER BY ts_start, ts_end, service, trace_id
LIMIT 1
