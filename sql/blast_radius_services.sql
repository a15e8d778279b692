-- blast_radius_services: the services the matched traces touched (spec reads §4.5
-- affected_services, top_services), from `blast_extent` (materialized by the same request).
--
-- Parameters: none.
--
-- Output: service Utf8, traces Int64 (matched traces whose extent holds an event of it)
-- Order: traces DESC, service (total: one row per service).
SELECT service, count(DISTINCT trace_id) AS traces
FROM blast_extent
WHERE service <> ''
GROUP BY service
ORDER BY traces DESC, service
