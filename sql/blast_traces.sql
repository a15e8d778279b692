-- blast_traces: the matched traces of /v1/blast_radius (spec reads §4.5), materialized as the
-- table `blast_traces` for blast_extent.sql and blast_radius.sql.
--
-- Matched events: failed, ts_start in the window, anchor_error_code = the key code, and in
-- single_family mode also service and anchor_step equal to the key.
--
-- Parameters:
--   $1  Timestamp  window since (inclusive)
--   $2  Timestamp  window until (inclusive)
--   $3  Utf8       error code
--   $4  Utf8       service, '' = any (cross_family)
--   $5  Utf8       step, '' = any (cross_family)
--
-- Output: trace_id Utf8, latest Timestamp (latest matched ts_start of the trace)
-- Order: trace_id (total: one row per trace).
SELECT trace_id, max(ts_start) AS latest
FROM events
WHERE status IN ('error', 'timeout', 'partial', 'aborted')
  AND ts_start BETWEEN $1 AND $2
  AND anchor_error_code = $3
  AND ($4 = '' OR service = $4)
  AND ($5 = '' OR anchor_step = $5)
GROUP BY trace_id
ORDER BY trace_id
