-- trace_durations: the traces whose first event starts in the window, with their duration
-- (spec reads §6.3 compare_windows: total_requests and the latency percentiles).
--
-- Parameters:
--   $1  Timestamp  scan since (the window's since minus the trace slack)
--   $2  Timestamp  scan until (the window's until plus the trace slack)
--   $3  Timestamp  window since (inclusive)
--   $4  Timestamp  window until (inclusive)
--
-- Output: trace_id Utf8, duration_ms Int64
-- Order: duration_ms, trace_id (total: one row per trace).
SELECT trace_id,
       CAST((CAST(max(ts_end) AS BIGINT) - CAST(min(ts_start) AS BIGINT)) / 1000000 AS BIGINT)
           AS duration_ms
FROM events
WHERE ts_start BETWEEN $1 AND $2
GROUP BY trace_id
HAVING min(ts_start) BETWEEN $3 AND $4
ORDER BY duration_ms, trace_id
