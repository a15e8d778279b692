-- deployment_error_rates: per listed deployment, the non-suppressed events of its service
-- (any env) in the 5 minutes before and after its first_seen, and how many of them failed
-- (spec events §5.2). Deployments without such events have no row (counts 0).
--
-- Parameters:
--   $1  Timestamp  window start of the listing (first_seen >= $1)
--   $2  Timestamp  window end of the listing (first_seen <= $2)
--   $3  Utf8       service, exact; '' = any
--
-- Output: id, before_requests, before_failed, after_requests, after_failed (Int64)
-- Order: id ASC
WITH d AS (
    SELECT id, service, first_seen
    FROM deployments
    WHERE first_seen >= $1 AND first_seen <= $2 AND ($3 = '' OR service = $3)
),
e AS (
    SELECT service, ts_start,
           CASE WHEN status IN ('error', 'timeout', 'partial', 'aborted') THEN 1 ELSE 0 END AS failed
    FROM events
    WHERE status <> 'suppressed'
      AND ts_start >= $1 - INTERVAL '5 minutes' AND ts_start < $2 + INTERVAL '5 minutes'
      AND ($3 = '' OR service = $3)
)
SELECT d.id,
       CAST(sum(CASE WHEN e.ts_start < d.first_seen THEN 1 ELSE 0 END) AS BIGINT) AS before_requests,
       CAST(sum(CASE WHEN e.ts_start < d.first_seen THEN e.failed ELSE 0 END) AS BIGINT) AS before_failed,
       CAST(sum(CASE WHEN e.ts_start >= d.first_seen THEN 1 ELSE 0 END) AS BIGINT) AS after_requests,
       CAST(sum(CASE WHEN e.ts_start >= d.first_seen THEN e.failed ELSE 0 END) AS BIGINT) AS after_failed
FROM d
JOIN e ON e.service = d.service
      AND e.ts_start >= d.first_seen - INTERVAL '5 minutes'
      AND e.ts_start < d.first_seen + INTERVAL '5 minutes'
GROUP BY d.id
ORDER BY d.id
