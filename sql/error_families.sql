-- error_families: the /v1/errors rows (spec reads §2.2), one row per error family of the page,
-- from the tables the same request materialized: `family_page` (error_family_page.sql: the
-- page's families, counts and traces counted), `page_traces` (error_family_page_traces.sql:
-- their (family, trace) rows with the latest counted ts_start) and `traced_events`, registered
-- for the traces of `page_traces` (see src/query/trace_index.rs).
--
-- sample_traces = up to 3 traces by latest counted ts_start desc, trace_id asc;
-- affected_users = distinct user_id over the trace extents of the family's traces.
--
-- Parameters:
--   $1  Timestamp  trace extent lower bound (since - 1h)
--   $2  Timestamp  trace extent upper bound (until + 1h)
--
-- Output: service Utf8, step Utf8, error_code Utf8, count Int64, affected_traces Int64,
--         affected_users Int64 (0 = none known), sample_traces List<Utf8>
-- Order: count DESC, service, step, error_code (total: a family is one row).
WITH ranked AS (
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
-- Each trace's distinct users first (a trace has ~4 events and mostly one user), so the join
-- yields about one row per (family, trace) instead of one per event.
trace_users AS (
    SELECT DISTINCT trace_id, user_id
    FROM traced_events
    WHERE ts_start BETWEEN $1 AND $2 AND user_id IS NOT NULL
),
users AS (
    SELECT pt.service, pt.step, pt.error_code, count(DISTINCT tu.user_id) AS affected_users
    FROM page_traces pt
    JOIN trace_users tu ON tu.trace_id = pt.trace_id
    GROUP BY pt.service, pt.step, pt.error_code
)
SELECT page.service, page.step, page.error_code, page.count, page.affected_traces,
       COALESCE(users.affected_users, 0) AS affected_users, samples.sample_traces
FROM family_page page
JOIN samples ON samples.service = page.service AND samples.step = page.step
            AND samples.error_code = page.error_code
LEFT JOIN users ON users.service = page.service AND users.step = page.step
               AND users.error_code = page.error_code
ORDER BY page.count DESC, page.service, page.step, page.error_code
