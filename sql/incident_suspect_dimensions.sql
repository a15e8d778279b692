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
--
-- Output: baseline Utf8 ('baseline_windows' | 'current_window'), failing_events Int64 (|F|),
--         baseline_events Int64 (|B|), dimension Utf8, value Utf8, failing_count Int64,
--         baseline_count Int64. The first row is always the totals row (dimension = '',
--         value = '', counts 0); then one row per (dimension, value) seen in F.
-- Order: dimension, value (unique per row; the totals row's '' sorts first).
--
-- Cost: the service's events in [now - 4W, now] are scanned three times (value pairs,
-- downstream steps, totals); both baseline modes are counted in the same pass and the mode is
-- chosen at the end, so no CTE is re-evaluated per dimension.
WITH ev AS (
    SELECT event_id, trace_id, ts_start, env, version, http_route, http_method, user_tier,
           user_region, steps,
           CASE WHEN ts_start >= $2
                     AND coalesce(status IN ('error', 'timeout', 'partial', 'aborted')
                                  AND anchor_step = $5 AND anchor_error_code = $6, false)
                THEN 'F'
                WHEN ts_start < $2 THEN 'BW'
                ELSE 'BC' END AS part
    FROM events
    WHERE service = $4 AND status <> 'suppressed' AND ts_start >= $3 AND ts_start <= $1
),
pairs AS (
    SELECT part, d.dimension,
           CASE d.dimension WHEN 'version' THEN version
                            WHEN 'route' THEN http_route
                            WHEN 'http_method' THEN http_method
                            WHEN 'user_tier' THEN user_tier
                            WHEN 'user_region' THEN user_region
                            ELSE env END AS value
    FROM ev
    CROSS JOIN (VALUES ('version'), ('route'), ('http_method'), ('user_tier'),
                       ('user_region'), ('env')) AS d(dimension)
),
st AS (
    SELECT event_id, trace_id, ts_start, part, unnest(steps) AS s,
           unnest(range(CAST(1 AS BIGINT), CAST(array_length(steps) AS BIGINT) + 1)) AS pos
    FROM ev
),
chosen AS (
    SELECT part,
           first_value(s['downstream']['service']
                       ORDER BY CASE WHEN s['status'] = 'error' THEN 0 ELSE 1 END,
                                s['start_ms'] DESC, pos DESC) AS downstream_service
    FROM st
    WHERE s['name'] = $5
    GROUP BY event_id, trace_id, ts_start, part
),
all_pairs AS (
    SELECT part, dimension, value FROM pairs
    UNION ALL
    SELECT part, 'downstream_service' AS dimension, downstream_service AS value
    FROM chosen
),
counts AS (
    SELECT dimension, value,
           sum(CASE WHEN part = 'F' THEN 1 ELSE 0 END) AS f,
           sum(CASE WHEN part = 'BW' THEN 1 ELSE 0 END) AS bw,
           sum(CASE WHEN part = 'BC' THEN 1 ELSE 0 END) AS bc
    FROM all_pairs
    WHERE value IS NOT NULL AND value <> ''
    GROUP BY dimension, value
),
totals AS (
    SELECT coalesce(sum(CASE WHEN part = 'F' THEN 1 ELSE 0 END), 0) AS f,
           coalesce(sum(CASE WHEN part = 'BW' THEN 1 ELSE 0 END), 0) AS bw,
           coalesce(sum(CASE WHEN part = 'BC' THEN 1 ELSE 0 END), 0) AS bc
    FROM ev
),
x AS (
    SELECT '' AS dimension, '' AS value, CAST(0 AS BIGINT) AS f, CAST(0 AS BIGINT) AS bw,
           CAST(0 AS BIGINT) AS bc
    UNION ALL
    SELECT dimension, value, f, bw, bc FROM counts WHERE f > 0
)
SELECT CASE WHEN totals.bw > 0 THEN 'baseline_windows' ELSE 'current_window' END AS baseline,
       totals.f AS failing_events,
       CASE WHEN totals.bw > 0 THEN totals.bw ELSE totals.bc END AS baseline_events,
       x.dimension, x.value,
       x.f AS failing_count,
       CASE WHEN totals.bw > 0 THEN x.bw ELSE x.bc END AS baseline_count
FROM x CROSS JOIN totals
ORDER BY x.dimension, x.value;
