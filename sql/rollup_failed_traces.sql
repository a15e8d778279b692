-- rollup_failed_traces: candidate traces of the root-cause rollup (spec reads §3.4 step 1):
-- every trace holding a failed event whose ts_start lies in the window.
--
-- Parameters:
--   $1  Timestamp  window since (inclusive)
--   $2  Timestamp  window until (inclusive)
--
-- Output: trace_id Utf8
-- Order: trace_id (total: distinct ids).
SELECT DISTINCT trace_id
FROM events
WHERE status IN ('error', 'timeout', 'partial', 'aborted')
  AND ts_start BETWEEN $1 AND $2
ORDER BY trace_id
