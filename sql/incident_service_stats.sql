-- incident_service_stats: per service, the request counts and the nearest-rank duration
-- percentile of the four detection windows, for the traffic and latency anomaly detectors
-- (spec triage §2.11), plus what classifying an anomaly incident reads about the service (§3.1).
--
-- Windows on ts_start as in incident_candidates: C = [now - W, now] (closed), B0 = [now - 2W,
-- now - W), B1 = [now - 3W, now - 2W), B2 = [now - 4W, now - 3W). Every event counts (any
-- status, any env). The percentile is exact: durations ascending, the value at 1-based rank
-- ceil(P x n / 100) clamped to [1, n], computed in integers as (P x n + 99) / 100. A window
-- without events has count 0 and a null percentile. env is the env of the service's newest event
-- in [now - 4W, now] (ts_start desc, event_id asc); any_version / any_partial (0 or 1) say
-- whether some event of the service in C has a non-empty version / status partial.
--
-- Parameters:
--   $1  Timestamp  now (C upper bound, inclusive)
--   $2  Timestamp  now - W (C lower bound, inclusive)
--   $3  Timestamp  now - 2W
--   $4  Timestamp  now - 3W
--   $5  Timestamp  now - 4W (B2 lower bound, inclusive)
--   $6  Int64      P, the percentile (1..100)
--
-- Output: service Utf8, current_count Int64, b0 Int64, b1 Int64, b2 Int64, current_px Int64,
--         b0_px Int64, b1_px Int64, b2_px Int64 (null when the window is empty),
--         any_version Int64, any_partial Int64, env Utf8
-- Order: service (total: one row per service with an event in [now - 4W, now]).
WITH e AS (SELECT service, env, version, status, duration_ms, ts_start, event_id,
                  CASE WHEN ts_start >= $2 THEN 0 WHEN ts_start >= $3 THEN 1
                       WHEN ts_start >= $4 THEN 2 ELSE 3 END AS w
           FROM events WHERE ts_start >= $5 AND ts_start <= $1),
r AS (SELECT service, w, duration_ms,
             CAST(row_number() OVER (PARTITION BY service, w ORDER BY duration_ms) AS BIGINT) AS rn,
             CAST(count(*) OVER (PARTITION BY service, w) AS BIGINT) AS n
      FROM e),
p AS (SELECT service, w, n, duration_ms AS px FROM r
      WHERE rn = least(greatest((CAST($6 AS BIGINT) * n + 99) / 100, 1), n)),
s AS (SELECT service,
             CAST(coalesce(max(CASE WHEN w = 0 THEN n END), 0) AS BIGINT) AS current_count,
             CAST(coalesce(max(CASE WHEN w = 1 THEN n END), 0) AS BIGINT) AS b0,
             CAST(coalesce(max(CASE WHEN w = 2 THEN n END), 0) AS BIGINT) AS b1,
             CAST(coalesce(max(CASE WHEN w = 3 THEN n END), 0) AS BIGINT) AS b2,
             CAST(max(CASE WHEN w = 0 THEN px END) AS BIGINT) AS current_px,
             CAST(max(CASE WHEN w = 1 THEN px END) AS BIGINT) AS b0_px,
             CAST(max(CASE WHEN w = 2 THEN px END) AS BIGINT) AS b1_px,
             CAST(max(CASE WHEN w = 3 THEN px END) AS BIGINT) AS b2_px
      FROM p GROUP BY service),
f AS (SELECT service,
             CAST(max(CASE WHEN w = 0 AND version IS NOT NULL AND version <> '' THEN 1 ELSE 0 END) AS BIGINT)
               AS any_version,
             CAST(max(CASE WHEN w = 0 AND status = 'partial' THEN 1 ELSE 0 END) AS BIGINT) AS any_partial
      FROM e GROUP BY service),
k AS (SELECT service, env,
             row_number() OVER (PARTITION BY service ORDER BY ts_start DESC, event_id ASC) AS newest
      FROM e)
SELECT s.service, s.current_count, s.b0, s.b1, s.b2, s.current_px, s.b0_px, s.b1_px, s.b2_px,
       f.any_version, f.any_partial, k.env
FROM s JOIN f ON f.service = s.service JOIN k ON k.service = s.service AND k.newest = 1
ORDER BY s.service;
