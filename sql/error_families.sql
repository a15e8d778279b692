-- error_families: the /v1/errors rows (spec reads §2.2), one row per error family.
--
-- Counted events: failed status with an anchor, ts_start in the window, optional service and
-- status filters. count = counted events (one per hop), affected_traces = their distinct
-- traces, sample_traces = up to 3 traces by latest counted ts_start desc, trace_id asc,
-- affected_users = distinct user_id over the trace extents of the family's traces.
--
-- Parameters:
--   $1  Timestamp  window since (inclusive)
--   $2  Timestamp  window until (inclusive)
--   $3  Utf8       service filter, '' = any
--   $4  Utf8       comma-separated failed statuses, '' = any failed status
--   $5  Timestamp  trace extent lower bound (since - 1h)
--   $6  Timestamp  trace extent upper bound (until + 1h)
--   $7  Int64      cursor count; 9223372036854775807 = first page
--   $8  Utf8       cursor service
--   $9  Utf8       cursor step
--   $10 Utf8       cursor error_code
--   $11 Int64      rows to return (page limit + 1)
--
-- Output: service Utf8, step Utf8, error_code Utf8, count Int64, affected_traces Int64,
--         affected_users Int64 (0 = none known), sample_traces List<Utf8>
-- Order: count DESC, service, step, error_code (total: a family is one row).
WITH q AS (
    SELECT service, anchor_step, anchor_error_code, trace_id, ts_start
    FROM events
    WHERE status IN ('error', 'timeout', 'partial', 'aborted')
      AND anchor_error_code IS NOT NULL
      AND ts_start BETWEEN $1 AND $2
      AND ($3 = '' OR service = $3)
      AND ($4 = '' OR array_has(string_to_array($4, ','), status))
),
fam AS (
    SELECT service, anchor_step AS step, anchor_error_code AS error_code,
           count(*) AS count, count(DISTINCT trace_id) AS affected_traces
    FROM q
    GROUP BY service, anchor_step, anchor_error_code
),
page AS (
    SELECT service, step, error_code, count, affected_traces
    FROM fam
    WHERE count < $7
       OR (count = $7 AND (service > $8
           OR (service = $8 AND (step > $9
               OR (step = $9 AND error_code > $10)))))
    ORDER BY count DESC, service, step, error_code
    LIMIT $11
),
family_traces AS (
    SELECT q.service, q.anchor_step AS step, q.anchor_error_code AS error_code, q.trace_id,
           max(q.ts_start) AS latest
    FROM q
    JOIN page ON page.service = q.service AND page.step = q.anchor_step
             AND page.error_code = q.anchor_error_code
    GROUP BY q.service, q.anchor_step, q.anchor_error_code, q.trace_id
),
ranked AS (
    SELECT service, step, error_code, trace_id,
           row_number() OVER (PARTITION BY service, step, error_code
                              ORDER BY latest DESC, trace_id) AS rn
    FROM family_traces
),
samples AS (
    SELECT service, step, error_code, array_agg(trace_id ORDER BY rn) AS sample_traces
    FROM ranked
    WHERE rn <= 3
    GROUP BY service, step, error_code
),
users AS (
    SELECT ft.service, ft.step, ft.error_code, count(DISTINCT e.user_id) AS affected_users
    FROM family_traces ft
    JOIN events e ON e.trace_id = ft.trace_id
    WHERE e.ts_start BETWEEN $5 AND $6
    GROUP BY ft.service, ft.step, ft.error_code
)
SELECT page.service, page.step, page.error_code, page.count, page.affected_traces,
       COALESCE(users.affected_users, 0) AS affected_users, samples.sample_traces
FROM page
JOIN samples ON samples.service = page.service AND samples.step = page.step
            AND samples.error_code = page.error_code
LEFT JOIN users ON users.service = page.service AND users.step = page.step
               AND users.error_code = page.error_code
ORDER BY page.count DESC, page.service, page.step, page.error_code
