-- events_search: one page of /v1/events/search (spec reads §4.4).
--
-- Parameters:
--   $1  Timestamp  window since (inclusive)
--   $2  Timestamp  window until (inclusive)
--   $3  Utf8       service filter, '' = any
--   $4  Utf8       comma-separated statuses an event may have (never empty)
--   $5  Utf8       anchor error code filter, '' = any (events without an anchor never match
--                  a given code)
--   $6  Utf8       trace_id filter, '' = any
--   $7  Timestamp  cursor ts_start; 2262-04-11T23:47:16.854775807Z = first page
--   $8  Utf8       cursor event_id
--   $9  Int64      rows to return (page limit + 1)
--
-- Output: the stored event columns (event_id ... errors, fields) that rebuild a WideEvent
-- Order: ts_start DESC, event_id, then ts_end, trace_id (total up to identical re-sends).
SELECT event_id, trace_id, span_id, parent_span_id, ts_start, ts_end, duration_ms, kind,
       service, env, status, version, anchor_step, anchor_error_code, anchor_kind,
       steps, logs, errors, fields
FROM events
WHERE ts_start BETWEEN $1 AND $2
  AND ($3 = '' OR service = $3)
  AND array_has(string_to_array($4, ','), status)
  AND ($5 = '' OR anchor_error_code = $5)
  AND ($6 = '' OR trace_id = $6)
  AND (ts_start < $7 OR (ts_start = $7 AND event_id > $8))
ORDER BY ts_start DESC, event_id, ts_end, trace_id
LIMIT $9
