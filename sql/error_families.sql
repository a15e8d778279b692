-- error_families: the /v1/errors rows (spec reads §2.2), one row per error family, from the
-- table `family_traces` (error_family_traces.sql, materialized by the same request).
--
-- count = counted events (one per hop), affected_traces = their distinct traces,
-- sample_traces = up to 3 traces by latest counted ts_start desc, trace_id asc,
-- affected_users = distinct user_id over the trace extents of the family's traces (the page's
-- families only: their traces are the build side of one join with `traced_events`, which the
-- request registers for the traces of `family_traces`; see src/query/trace_index.rs).
--
-- Parameters:
--   $1  Timestamp  trace extent lower bound (since - 1h)
--   $2  Timestamp  trace extent upper bound (until + 1h)
--   $3  Int64      cursor count; 9223372036854775807 = first page
--   $4  Utf8       cursor service
--   $5  Utf8       cursor step
--   $6  Utf8       cursor error_code
--   $7  Int64      rows to return (page limit + 1)
--
-- Output: service Utf8, step Utf8, error_code Utf8, count Int64, affected_traces Int64,
--         affected_users Int64 (0 = none known), sample_traces List<Utf8>
-- Order: count DESC, service, step, error_code (total: a family is one row).
WITH fam AS (
    SELECT service, step, error_code,
           sum(events) AS count, count(*) AS affected_traces
    FROM family_traces
    GROUP BY service, step, error_code
),
page AS (
    SELECT service, step, error_code, count, affected_traces
    FROM fam
    WHERE count < $3
       OR (count = $3 AND (service > $4
           OR (service = $4 AND (step > $5
               OR (step = $5 AND error_code > $6)))))
    ORDER BY count DESC, service, step, error_code
    LIMIT $7
),
page_traces AS (
    SELECT ft.service, ft.step, ft.error_code, ft.trace_id, ft.latest
    FROM page
    JOIN family_traces ft ON ft.service = page.service AND ft.step = page.step
                         AND ft.error_code = page.error_code
),
ranked AS (
    SELECT service, step, error_code, trace_id,
           row_number() OVER (PARTITION BY service, step, error_code
                              ORDER BY latest DESC, trace_id) AS rn
    FROM page_traces
),
samples AS (
    SELECT service, step, error_code, array_agg(trace_id ORDER BY rn) AS sample_traces
    FROM ranked
    WHERE rn <= 3
    GROUP BY service, step, error_code
),
users AS (
    SELECT pt.service, pt.step, pt.error_code, count(DISTINCT e.user_id) AS affected_users
    FROM page_traces pt
    JOIN traced_events e ON e.trace_id = pt.trace_id
    WHERE e.ts_start BETWEEN $1 AND $2
    GROUP BY pt.service, pt.step, pt.error_code
)
SELECT page.service, page.step, page.error_code, page.count, page.affected_traces,
       COALESCE(users.affected_users, 0) AS affected_users, samples.sample_traces
FROM page
JOIN samples ON samples.service = page.service AND samples.step = page.step
            AND samples.error_code = page.error_code
LEFT JOIN users ON users.service = page.service AND users.step = page.step
               AND users.error_code = page.error_code
ORDER BY page.count DESC, page.service, page.step, page.error_code
