-- blast_radius_services: the non-empty services over the trace extents of the traces matched
-- by /v1/blast_radius (spec reads §4.5), with the number of matched traces containing each.
--
-- Parameters:
--   $1  Timestamp  window since (inclusive)
--   $2  Timestamp  window until (inclusive)
--   $3  Utf8       error code
--   $4  Utf8       service, '' = any (cross_family)
--   $5  Utf8       step, '' = any (cross_family)
--   $6  Timestamp  extent lower bound (since - 1h)
--   $7  Timestamp  extent upper bound (until + 1h)
--
-- Output: service Utf8, traces Int64
-- Order: traces DESC, service (total: one row per service).
WITH matched AS (
    SELECT DISTINCT trace_id
    FROM events
    WHERE status IN ('error', 'timeout', 'partial', 'aborted')
      AND ts_start BETWEEN $1 AND $2
      AND anchor_error_code = $3
      AND ($4 = '' OR service = $4)
      AND ($5 = '' OR anchor_step = $5)
),
trace_services AS (
    SELECT DISTINCT e.trace_id, e.service
    FROM matched m
    JOIN events e ON e.trace_id = m.trace_id
    WHERE e.ts_start BETWEEN $6 AND $7
      AND e.service <> ''
)
SELECT service, count(*) AS traces
FROM trace_services
GROUP BY service
ORDER BY traces DESC, service
