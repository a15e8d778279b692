-- error_family_page_traces: the rows of `family_traces` (error_family_traces.sql) whose family
-- is on the page `family_page` (error_family_page.sql), both materialized by the same request;
-- materialized as the table `page_traces`. Its trace ids are the set the request registers
-- `traced_events` for (src/query/trace_index.rs), so the users join of error_families.sql
-- reads the events of the page's traces only.
--
-- Parameters: none.
--
-- Output: service Utf8, step Utf8, error_code Utf8, trace_id Utf8, latest Timestamp
-- Order: none. This is an intermediate relation, never an answer: error_families.sql reads it
--        through aggregates and a window with a total order, so the rows' order cannot reach a
--        response (see error_family_traces.sql).
SELECT ft.service, ft.step, ft.error_code, ft.trace_id, ft.latest
FROM family_traces ft
JOIN family_page p ON p.service = ft.service AND p.step = ft.step
                  AND p.error_code = ft.error_code
