-- incident_suspect_dimensions: value counts per dimension for one error family's failing events
-- and its service's baseline traffic (spec triage §2.10); Rust ranks them.
--
-- F = failed events of the family in C = [now - W, now]. B = events of the service with status
-- <> 'suppressed' in [now - 4W, now - W) ('baseline_windows'); when there are none, the events
-- of the service in C with status <> 'suppressed' that are not in F ('current_window').
-- Dimensions: version, route (http_route), http_method, user_tier, user_region,
-- downstream_service, env. downstream_service = downstream.service of the step named like the
-- family step: the latest-starting one with status 'error', else the latest-starting one
-- (equal starts: the later in array order). Null or empty values are missing: they count in
-- failing_events / baseline_events but yield no value row.
--
-- Parameters:
--   $1  Timestamp  now (C upper bound, inclusive)
--   $2  Timestamp  now - W (C lower bound, inclusive; baseline upper bound, exclusive)
--   $3  Timestamp  now - 4W (baseline lower bound, inclusive)
--   $4  Utf8       family service
--   $5  Utf8       family step
--   $6  Utf8       family error code
--   $7  Int64      1 = also count the current-window baseline (BC), 0 = only F from C
--   $8  Timestamp  a: the start of the first whole 15 s bucket in the baseline windows (>= now - 4W)
--   $9  Timestamp  b: the end of the last whole bucket (<= now - W); a <= b
--
-- Output: baseline Utf8 ('baseline_windows' | 'current_window'), failing_events Int64 (|F|),
--         baseline_events Int64 (|B|), dimension Utf8, value Utf8, failing_count Int64,
--         baseline_count Int64. The first row is always the totals row (dimension = '',
--         value = '', counts 0); then one row per (dimension, value) seen in F.
-- Order: dimension, value (unique per row; the totals row's '' sorts first).
--
-- Sources: F (and BC) come from `events` in C. The baseline windows [now - 4W, now - W) are
-- split by 15 s bucket and source: `dim_values` holds the per-bucket summaries
-- (incident_dimension_summary.sql) of the cold files and hot batches that overlap them, of
-- which the buckets in [a, b) count; `dim_partial_events` is those sources again, read row by
-- row only in the partial buckets [now - 4W, a) and [b, now - W); `dim_edge_events` is every
-- overlapping source without a summary (small hot batches), read row by row over the whole
-- range. Rust registers all three (src/incidents/dimensions.rs) and runs the query with $7 = 0
-- first: with failures sorted first, C costs a scan of the failed rows only;
-- only when that finds no baseline-window event does it run again with $7 = 1.
--
-- Cost: the edge sources' events of the service (the downstream step is picked by
-- step_downstream(steps, name) without unnesting), grouped by their combination of dimension
-- values with the three part counts; each combination counts once per dimension, and the
-- totals row is spread to every row with a window, so no CTE is evaluated twice.
WITH ev AS (
    SELECT env, version, http_route, http_method, user_tier, user_region,
           step_downstream(steps, $5) AS downstream_service,
           CASE WHEN coalesce(status IN ('error', 'timeout', 'partial', 'aborted')
                              AND anchor_step = $5 AND anchor_error_code = $6, false)
                THEN 'F' ELSE 'BC' END AS part
    FROM events
    WHERE service = $4 AND status <> 'suppressed' AND ts_start >= $2 AND ts_start <= $1
      AND ($7 = 1 OR (status IN ('error', 'timeout', 'partial', 'aborted')
                      AND anchor_step = $5 AND anchor_error_code = $6))
    UNION ALL
    SELECT env, version, http_route, http_method, user_tier, user_region,
           step_downstream(steps, $5) AS downstream_service, 'BW' AS part
    FROM dim_edge_events
    WHERE service = $4 AND status <> 'suppressed' AND ts_start >= $3 AND ts_start < $2
    UNION ALL
    SELECT env, version, http_route, http_method, user_tier, user_region,
           step_downstream(steps, $5) AS downstream_service, 'BW' AS part
    FROM dim_partial_events
    WHERE service = $4 AND status <> 'suppressed' AND ts_start >= $3 AND ts_start < $2
      AND (ts_start < $8 OR ts_start >= $9)
),
combos AS (
    SELECT env, version, http_route, http_method, user_tier, user_region, downstream_service,
           sum(CASE WHEN part = 'F' THEN 1 ELSE 0 END) AS f,
           sum(CASE WHEN part = 'BW' THEN 1 ELSE 0 END) AS bw,
           sum(CASE WHEN part = 'BC' THEN 1 ELSE 0 END) AS bc
    FROM ev
    GROUP BY env, version, http_route, http_method, user_tier, user_region, downstream_service
),
pairs AS (
    SELECT d.dimension,
           CASE d.dimension WHEN '' THEN ''
                            WHEN 'version' THEN version
                            WHEN 'route' THEN http_route
                            WHEN 'http_method' THEN http_method
                            WHEN 'user_tier' THEN user_tier
                            WHEN 'user_region' THEN user_region
                            WHEN 'downstream_service' THEN downstream_service
                            ELSE env END AS value,
           f, bw, bc
    FROM combos
    CROSS JOIN (VALUES (''), ('version'), ('route'), ('http_method'), ('user_tier'),
                       ('user_region'), ('downstream_service'), ('env')) AS d(dimension)
    UNION ALL
    SELECT dimension, value, CAST(0 AS BIGINT) AS f, events AS bw, CAST(0 AS BIGINT) AS bc
    FROM dim_values
    WHERE service = $4 AND (step = '' OR (dimension = 'downstream_service' AND step = $5))
      AND bucket >= $8 AND bucket < $9
    UNION ALL
    SELECT '' AS dimension, '' AS value, CAST(0 AS BIGINT) AS f, CAST(0 AS BIGINT) AS bw,
           CAST(0 AS BIGINT) AS bc
),
counts AS (
    SELECT dimension, value, sum(f) AS f, sum(bw) AS bw, sum(bc) AS bc
    FROM pairs
    WHERE dimension = '' OR (value IS NOT NULL AND value <> '')
    GROUP BY dimension, value
),
x AS (
    SELECT dimension, value, f, bw, bc,
           max(CASE WHEN dimension = '' THEN f END) OVER () AS tf,
           max(CASE WHEN dimension = '' THEN bw END) OVER () AS tbw,
           max(CASE WHEN dimension = '' THEN bc END) OVER () AS tbc
    FROM counts
)
SELECT CASE WHEN tbw > 0 THEN 'baseline_windows' ELSE 'current_window' END AS baseline,
       tf AS failing_events,
       CASE WHEN tbw > 0 THEN tbw ELSE tbc END AS baseline_events,
       dimension, value,
       CASE WHEN dimension = '' THEN CAST(0 AS BIGINT) ELSE f END AS failing_count,
       CASE WHEN dimension = '' THEN CAST(0 AS BIGINT)
            WHEN tbw > 0 THEN bw ELSE bc END AS baseline_count
FROM x
WHERE dimension = '' OR f > 0
ORDER BY dimension, value;
