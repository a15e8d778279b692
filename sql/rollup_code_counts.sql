-- rollup_code_counts: per error code, the failed events in the window that anchored it
-- (spec reads §3.4 propagated_count, affected_traces), from the table `trace_events`
-- (trace_events.sql over the rollup's candidate traces, materialized by the same request:
-- every failed event in the window belongs to a candidate trace and lies in its extent).
--
-- Parameters:
--   $1  Timestamp  window since (inclusive)
--   $2  Timestamp  window until (inclusive)
--
-- Output: error_code Utf8, propagated_count Int64, affected_traces Int64
-- Order: error_code (total: one row per code).
SELECT anchor_error_code AS error_code,
       count(*) AS propagated_count,
       count(DISTINCT trace_id) AS affected_traces
FROM trace_events
WHERE status IN ('error', 'timeout', 'partial', 'aborted')
  AND anchor_error_code IS NOT NULL
  AND ts_start BETWEEN $1 AND $2
GROUP BY anchor_error_code
ORDER BY error_code
