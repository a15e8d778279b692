-- error_family_traces: the counted events of /v1/errors (spec reads §2.2) per error family and
-- trace; materialized as the table `family_traces` that error_family_page.sql and
-- error_family_page_traces.sql read, so the events are scanned for failures once per request.
--
-- Counted events: failed status with an anchor, ts_start in the window, optional service and
-- status filters.
--
-- Parameters:
--   $1  Timestamp  window since (inclusive)
--   $2  Timestamp  window until (inclusive)
--   $3  Utf8       service filter, '' = any
--   $4  Utf8       comma-separated failed statuses, '' = any failed status
--
-- Output: service Utf8, step Utf8, error_code Utf8, trace_id Utf8, events Int64 (counted
--         events of the family in the trace), latest Timestamp (their latest ts_start)
-- Order: none. This is an intermediate relation, never an answer: the queries after it read it
--        through aggregates, joins and a window with a total order, and order their own
--        output totally, so the rows' order cannot reach a response. Sorting ~200 k (family, trace) rows by four strings here cost about a third
--        of the request's CPU at 10 M events (docs/perf.md), for nothing.
SELECT service, anchor_step AS step, anchor_error_code AS error_code, trace_id,
       count(*) AS events, max(ts_start) AS latest
FROM events
WHERE status IN ('error', 'timeout', 'partial', 'aborted')
  AND anchor_error_code IS NOT NULL
  AND ts_start BETWEEN $1 AND $2
  AND ($3 = '' OR service = $3)
  AND ($4 = '' OR array_has(string_to_array($4, ','), status))
GROUP BY service, anchor_step, anchor_error_code, trace_id
