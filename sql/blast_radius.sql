-- blast_radius: the aggregates of /v1/blast_radius (spec reads §4.5) as one row, from the
-- tables `blast_traces` and `blast_extent` materialized by the same request.
--
-- Parameters: none.
--
-- Output: affected_requests Int64, affected_users Int64 (0 = none known),
--         sample_traces List<Utf8> null (up to 3: latest matched ts_start desc, trace_id asc)
-- Order: a single row.
WITH samples AS (
    SELECT trace_id, latest
    FROM blast_traces
    ORDER BY latest DESC, trace_id
    LIMIT 3
)
SELECT
    (SELECT count(*) FROM blast_traces) AS affected_requests,
    (SELECT count(DISTINCT user_id) FROM blast_extent) AS affected_users,
    (SELECT array_agg(trace_id ORDER BY latest DESC, trace_id) FROM samples) AS sample_traces
