-- blast_radius: the aggregates of /v1/blast_radius (spec reads §4.5) as one row.
--
-- Matched events: failed, ts_start in the window, anchor_error_code = the key code, and in
-- single_family mode also service and anchor_step equal to the key.
--
-- Parameters:
--   $1  Timestamp  window since (inclusive)
--   $2  Timestamp  window until (inclusive)
--   $3  Utf8       error code
--   $4  Utf8       service, '' = any (cross_family)
--   $5  Utf8       step, '' = any (cross_family)
--   $6  Timestamp  extent lower bound (since - 1h)
--   $7  Timestamp  extent upper bound (until + 1h)
--
-- Output: affected_requests Int64, affected_users Int64 (0 = none known),
--         sample_traces List<Utf8> null (up to 3: latest matched ts_start desc, trace_id asc)
-- Order: a single row.
WITH matched AS (
    SELECT trace_id, max(ts_start) AS latest
    FROM events
    WHERE status IN ('error', 'timeout', 'partial', 'aborted')
      AND ts_start BETWEEN $1 AND $2
      AND anchor_error_code = $3
      AND ($4 = '' OR service = $4)
      AND ($5 = '' OR anchor_step = $5)
    GROUP BY trace_id
),
samples AS (
    SELECT trace_id, latest
    FROM matched
    ORDER BY latest DESC, trace_id
    LIMIT 3
)
SELECT
    (SELECT count(*) FROM matched) AS affected_requests,
    (SELECT count(DISTINCT e.user_id)
       FROM matched m
       JOIN events e ON e.trace_id = m.trace_id
      WHERE e.ts_start BETWEEN $6 AND $7) AS affected_users,
    (SELECT array_agg(trace_id ORDER BY latest DESC, trace_id) FROM samples) AS sample_traces
