-- recent_traces: one page of /v1/traces/recent (spec reads §4.3): the traces with at least
-- one matching event in the window, summarised over their trace extents.
--
-- Parameters:
--   $1  Timestamp  window since (inclusive)
--   $2  Timestamp  window until (inclusive)
--   $3  Utf8       service filter, '' = any
--   $4  Utf8       comma-separated statuses a matching event may have (never empty)
--   $5  Timestamp  extent lower bound (since - 1h)
--   $6  Timestamp  extent upper bound (until + 1h)
--   $7  Timestamp  cursor trace ts_start; 2262-04-11T23:47:16.854775807Z = first page
--   $8  Utf8       cursor trace_id
--   $9  Int64      rows to return (page limit + 1)
--
-- Output: trace_id Utf8, ts_start Timestamp (min over the extent),
--         ts_end Timestamp (max over the extent)
-- Order: ts_start DESC, trace_id (total: one row per trace).
WITH matched AS (
    SELECT DISTINCT trace_id
    FROM events
    WHERE ts_start BETWEEN $1 AND $2
      AND ($3 = '' OR service = $3)
      AND array_has(string_to_array($4, ','), status)
),
traces AS (
    SELECT e.trace_id, min(e.ts_start) AS ts_start, max(e.ts_end) AS ts_end
    FROM matched m
    JOIN events e ON e.trace_id = m.trace_id
    WHERE e.ts_start BETWEEN $5 AND $6
    GROUP BY e.trace_id
)
SELECT trace_id, ts_start, ts_end
FROM traces
WHERE ts_start < $7 OR (ts_start = $7 AND trace_id > $8)
ORDER BY ts_start DESC, trace_id
LIMIT $9
