-- rollup_code_services: per error code, the non-empty services over the trace extents of the
-- traces holding a failed event in the window with that anchor code, with the number of
-- those traces containing each service (spec reads §3.4 affected_services, top_services).
-- Reads the table `trace_events` (trace_events.sql over the rollup's candidate traces within
-- their extents, materialized by the same request).
--
-- Parameters:
--   $1  Timestamp  window since (inclusive)
--   $2  Timestamp  window until (inclusive)
--
-- Output: error_code Utf8, service Utf8, traces Int64
-- Order: error_code, traces DESC, service (total: one row per code and service).
WITH failed AS (
    SELECT DISTINCT anchor_error_code AS error_code, trace_id
    FROM trace_events
    WHERE status IN ('error', 'timeout', 'partial', 'aborted')
      AND anchor_error_code IS NOT NULL
      AND ts_start BETWEEN $1 AND $2
),
trace_services AS (
    SELECT DISTINCT trace_id, service
    FROM trace_events
    WHERE service <> ''
)
SELECT failed.error_code, trace_services.service, count(*) AS traces
FROM failed
JOIN trace_services ON trace_services.trace_id = failed.trace_id
GROUP BY failed.error_code, trace_services.service
ORDER BY failed.error_code, traces DESC, trace_services.service
