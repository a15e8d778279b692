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
WITH ev AS (
    SELECT event_id, trace_id, ts_start, env, version, http_route, http_method, user_tier,
           user_region, steps, ts_start >= $2 AS in_c,
           coalesce(status IN ('error', 'timeout', 'partial', 'aborted')
                    AND anchor_step = $5 AND anchor_error_code = $6, false) AS is_f
    FROM events
    WHERE service = $4 AND status <> 'suppressed' AND ts_start >= $3 AND ts_start <= $1
),
mode AS (
    SELECT CASE WHEN sum(CASE WHEN in_c THEN 0 ELSE 1 END) > 0 THEN 'baseline_windows'
                ELSE 'current_window' END AS baseline
    FROM ev
),
sel AS (
    SELECT ev.event_id, ev.trace_id, ev.ts_start, ev.env, ev.version, ev.http_route,
           ev.http_method, ev.user_tier, ev.user_region, ev.steps,
           CASE WHEN ev.in_c AND ev.is_f THEN 'F' ELSE 'B' END AS side
    FROM ev CROSS JOIN mode
    WHERE (ev.in_c AND ev.is_f)
       OR (mode.baseline = 'baseline_windows' AND NOT ev.in_c)
       OR (mode.baseline = 'current_window' AND ev.in_c AND NOT ev.is_f)
),
st AS (
    SELECT event_id, trace_id, ts_start, side, unnest(steps) AS s,
           unnest(range(CAST(1 AS BIGINT), CAST(array_length(steps) AS BIGINT) + 1)) AS pos
    FROM sel
),
ranked AS (
    SELECT event_id, trace_id, ts_start, side, s['downstream']['service'] AS downstream_service,
           row_number() OVER (PARTITION BY event_id, trace_id, ts_start, side
                              ORDER BY CASE WHEN s['status'] = 'error' THEN 0 ELSE 1 END,
                                       s['start_ms'] DESC, pos DESC) AS rn
    FROM st
    WHERE s['name'] = $5
),
dims AS (
    SELECT side, 'version' AS dimension, version AS value FROM sel
    UNION ALL SELECT side, 'route', http_route FROM sel
    UNION ALL SELECT side, 'http_method', http_method FROM sel
    UNION ALL SELECT side, 'user_tier', user_tier FROM sel
    UNION ALL SELECT side, 'user_region', user_region FROM sel
    UNION ALL SELECT side, 'downstream_service', downstream_service FROM ranked WHERE rn = 1
    UNION ALL SELECT side, 'env', env FROM sel
),
counts AS (
    SELECT dimension, value,
           sum(CASE WHEN side = 'F' THEN 1 ELSE 0 END) AS failing_count,
           sum(CASE WHEN side = 'B' THEN 1 ELSE 0 END) AS baseline_count
    FROM dims
    WHERE value IS NOT NULL AND value <> ''
    GROUP BY dimension, value
),
totals AS (
    SELECT coalesce(sum(CASE WHEN side = 'F' THEN 1 ELSE 0 END), 0) AS failing_events,
           coalesce(sum(CASE WHEN side = 'B' THEN 1 ELSE 0 END), 0) AS baseline_events
    FROM sel
),
x AS (
    SELECT '' AS dimension, '' AS value, CAST(0 AS BIGINT) AS failing_count,
           CAST(0 AS BIGINT) AS baseline_count
    UNION ALL
    SELECT dimension, value, failing_count, baseline_count FROM counts WHERE failing_count > 0
)
SELECT mode.baseline, totals.failing_events, totals.baseline_events, x.dimension, x.value,
       x.failing_count, x.baseline_count
FROM x CROSS JOIN mode CROSS JOIN totals
ORDER BY x.dimension, x.value;
