-- trace_durations: the histogram of trace durations of the traces whose first event starts in
-- the window (spec reads §6.3 compare_windows: total_requests and the latency percentiles). One
-- row per distinct duration, so over millions of traces the answer stays small and nothing
-- sorts one row per trace.
--
-- Parameters:
--   $1  Timestamp  scan since (the window's since minus the trace slack)
--   $2  Timestamp  scan until (the window's until plus the trace slack)
--   $3  Timestamp  window since (inclusive)
--   $4  Timestamp  window until (inclusive)
--
-- Output: duration_ms Int64, traces Int64
-- Order: duration_ms (total: one row per duration).
SELECT duration_ms, count(*) AS traces
FROM (
    SELECT CAST((CAST(max(ts_end) AS BIGINT) - CAST(min(ts_start) AS BIGINT)) / 1000000 AS BIGINT)
               AS duration_ms
    FROM events
    WHERE ts_start BETWEEN $1 AND $2
    GROUP BY trace_id
    HAVING min(ts_start) BETWEEN $3 AND $4
) AS per_trace
GROUP BY duration_ms
ORDER BY duration_ms
