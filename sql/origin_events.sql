-- origin_events: the stored events of the selected traces within the extent bounds, read for
-- the `error_reason` of the origins of a page of `graph_failures` rows (spec reads §6.3: the
-- error fields as `trace_summary`; §4.1 step 3).
--
-- Tables: sel(trace_id), the page's trace ids, and traced_events, the events registered for
-- that set (src/query/trace_index.rs).
-- Parameters:
--   $1  Timestamp  extent lower bound (inclusive)
--   $2  Timestamp  extent upper bound (inclusive)
--
-- Output: the stored event columns (event_id ... errors, fields) that rebuild a WideEvent
-- Order: event_id, then as event_by_id: ts_start, ts_end, service, trace_id.
SELECT e.event_id, e.trace_id, e.span_id, e.parent_span_id, e.ts_start, e.ts_end,
       e.duration_ms, e.kind, e.service, e.env, e.status, e.version, e.anchor_step,
       e.anchor_error_code, e.anchor_kind, e.steps, e.logs, e.errors, e.fields
FROM sel s
JOIN traced_events e ON e.trace_id = s.trace_id
WHERE e.ts_start BETWEEN $1 AND $2
ORDER BY e.event_id, e.ts_start, e.ts_end, e.service, e.trace_id
