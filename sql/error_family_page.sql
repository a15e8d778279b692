-- error_family_page: one page of /v1/errors families (spec reads §2.2) with their counts, from
-- the table `family_traces` (error_family_traces.sql, materialized by the same request);
-- materialized as the table `family_page`, which error_family_page_traces.sql and
-- error_families.sql read.
--
-- count = counted events (one per hop), affected_traces = their distinct traces (a row of
-- `family_traces` is one family and trace).
--
-- Parameters:
--   $1  Int64      cursor count; 9223372036854775807 = first page
--   $2  Utf8       cursor service
--   $3  Utf8       cursor step
--   $4  Utf8       cursor error_code
--   $5  Int64      rows to return (page limit + 1)
--
-- Output: service Utf8, step Utf8, error_code Utf8, count Int64, affected_traces Int64
-- Order: count DESC, service, step, error_code (total: a family is one row).
WITH fam AS (
    SELECT service, step, error_code,
           sum(events) AS count, count(*) AS affected_traces
    FROM family_traces
    GROUP BY service, step, error_code
)
SELECT service, step, error_code, count, affected_traces
FROM fam
WHERE count < $1
   OR (count = $1 AND (service > $2
       OR (service = $2 AND (step > $3
           OR (step = $3 AND error_code > $4)))))
ORDER BY count DESC, service, step, error_code
LIMIT $5
