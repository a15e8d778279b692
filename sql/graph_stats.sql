-- graph_stats: the counts of the `graph_stats` tool (spec reads §6.3) over events whose
-- ts_start lies in the window: all events, distinct traces, traces with a failed event,
-- distinct user ids, distinct services, distinct anchor codes of failed events.
--
-- Parameters:
--   $1  Timestamp  window since (inclusive)
--   $2  Timestamp  window until (inclusive)
--
-- Output: events Int64, requests Int64, failed_requests Int64, users Int64, services Int64,
--         failures Int64
-- Order: one row (an aggregate without GROUP BY; the ORDER BY states it).
SELECT count(*) AS events,
       count(DISTINCT trace_id) AS requests,
       count(DISTINCT CASE WHEN status IN ('error', 'timeout', 'partial', 'aborted')
                           THEN trace_id END) AS failed_requests,
       count(DISTINCT user_id) AS users,
       count(DISTINCT service) AS services,
       count(DISTINCT CASE WHEN status IN ('error', 'timeout', 'partial', 'aborted')
                           THEN anchor_error_code END) AS failures
FROM events
WHERE ts_start BETWEEN $1 AND $2
ORDER BY events
