-- blast_extent: who and what the matched traces touched (spec reads §4.5): the distinct
-- (trace, service, user) triples over the trace extents of `blast_traces` (blast_traces.sql,
-- materialized by the same request), itself materialized as `blast_extent` for
-- blast_radius.sql and blast_radius_services.sql. One join of the small trace set (build
-- side) with `traced_events` (registered by the request for the traces of `blast_traces`; see
-- src/query/trace_index.rs).
--
-- Parameters:
--   $1  Timestamp  extent lower bound (since - 1h)
--   $2  Timestamp  extent upper bound (until + 1h)
--
-- Output: trace_id Utf8, service Utf8, user_id Utf8 null
-- Order: trace_id, service, user_id (total: distinct triples).
SELECT DISTINCT e.trace_id, e.service, e.user_id
FROM blast_traces m
JOIN traced_events e ON e.trace_id = m.trace_id
WHERE e.ts_start BETWEEN $1 AND $2
ORDER BY e.trace_id, e.service, e.user_id
