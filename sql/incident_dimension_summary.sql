-- incident_dimension_summary: the suspect-dimension value counts (spec triage §2.10) of one
-- immutable source of `events` (a cold file or a merged hot batch), per service, for every
-- step name at once, per 15 s bucket of ts_start. Cached per source and summed by
-- incident_suspect_dimensions.sql (table `dim_values`) over the whole buckets inside the
-- baseline windows, so a build reads row by row only the events of the two partial buckets at
-- the window edges (and of sources too small to summarize), not every event of the service
-- over 4W.
--
-- Counted events: status <> 'suppressed'. Dimensions as in incident_suspect_dimensions.sql;
-- downstream_service rows are per step name (step_downstreams(steps): the §2.10 choice for
-- every name of the event), every other row has step ''. Null or empty values yield no row.
--
-- Parameters: none.
--
-- Output: service Utf8, step Utf8, dimension Utf8 ('' = the totals row, value ''), value Utf8,
--         bucket Timestamp (ts_start binned to 15 s from the epoch), events Int64
-- Order: service, step, dimension, value, bucket (unique per row).
WITH ev AS (
    SELECT service, env, version, http_route, http_method, user_tier, user_region, steps,
           date_bin(INTERVAL '15 seconds', ts_start) AS bucket
    FROM events
    WHERE status <> 'suppressed'
),
combos AS (
    SELECT service, env, version, http_route, http_method, user_tier, user_region, bucket,
           count(*) AS events
    FROM ev
    GROUP BY service, env, version, http_route, http_method, user_tier, user_region, bucket
),
plain AS (
    SELECT service, '' AS step, d.dimension,
           CASE d.dimension WHEN '' THEN ''
                            WHEN 'version' THEN version
                            WHEN 'route' THEN http_route
                            WHEN 'http_method' THEN http_method
                            WHEN 'user_tier' THEN user_tier
                            WHEN 'user_region' THEN user_region
                            ELSE env END AS value,
           bucket, events
    FROM combos
    CROSS JOIN (VALUES (''), ('version'), ('route'), ('http_method'), ('user_tier'),
                       ('user_region'), ('env')) AS d(dimension)
),
downstream AS (
    SELECT service, d['step'] AS step, 'downstream_service' AS dimension,
           d['downstream'] AS value, bucket, CAST(1 AS BIGINT) AS events
    FROM (SELECT service, bucket, unnest(step_downstreams(steps)) AS d FROM ev)
)
SELECT service, step, dimension, value, bucket, sum(events) AS events
FROM (SELECT service, step, dimension, value, bucket, events FROM plain
      UNION ALL
      SELECT service, step, dimension, value, bucket, events FROM downstream)
WHERE service IS NOT NULL AND step IS NOT NULL
  AND (dimension = '' OR (value IS NOT NULL AND value <> ''))
GROUP BY service, step, dimension, value, bucket
ORDER BY service, step, dimension, value, bucket
