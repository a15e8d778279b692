-- incident_candidates: the error families spiking in the current window (spec triage §2.3).
--
-- Windows on ts_start partition [now - 4W, now]: current C = [now - W, now] (closed), baselines
-- B0 = [now - 2W, now - W), B1 = [now - 3W, now - 2W), B2 = [now - 4W, now - 3W). Only failed
-- events with an anchor count (never suppressed); families span all envs. baseline_count is
-- the median of b0, b1, b2; lift = current / baseline when the baseline is positive, else
-- current (a spike from nothing passes any MIN_LIFT).
--
-- Parameters:
--   $1  Timestamp  now (C upper bound, inclusive)
--   $2  Timestamp  now - W (C lower bound, inclusive)
--   $3  Timestamp  now - 2W
--   $4  Timestamp  now - 3W
--   $5  Timestamp  now - 4W (B2 lower bound, inclusive)
--   $6  Int64      MIN_COUNT
--   $7  Float64    MIN_RATE x (W in seconds / 60) when MIN_RATE > 0, else 0
--   $8  Float64    MIN_LIFT
--
-- Output: service Utf8, step Utf8, error_code Utf8, current_count Int64, b0 Int64, b1 Int64,
--         b2 Int64, baseline_count Int64, lift Float64
-- Order: current_count DESC, service, step, error_code (total: one row per family).
WITH f AS (SELECT service, anchor_step AS step, anchor_error_code AS error_code, ts_start FROM events
           WHERE status IN ('error','timeout','partial','aborted') AND anchor_error_code IS NOT NULL
             AND ts_start >= $5 AND ts_start <= $1),
c AS (SELECT service, step, error_code, sum(CASE WHEN ts_start >= $2 THEN 1 ELSE 0 END) AS current_count,
        sum(CASE WHEN ts_start >= $3 AND ts_start < $2 THEN 1 ELSE 0 END) AS b0,
        sum(CASE WHEN ts_start >= $4 AND ts_start < $3 THEN 1 ELSE 0 END) AS b1,
        sum(CASE WHEN ts_start < $4 THEN 1 ELSE 0 END) AS b2 FROM f GROUP BY service, step, error_code),
m AS (SELECT *, b0 + b1 + b2 - greatest(b0, b1, b2) - least(b0, b1, b2) AS baseline_count
      FROM c WHERE current_count > 0),
l AS (SELECT *, CASE WHEN baseline_count > 0 THEN CAST(current_count AS DOUBLE) / CAST(baseline_count AS DOUBLE)
                     ELSE CAST(current_count AS DOUBLE) END AS lift FROM m)
SELECT service, step, error_code, current_count, b0, b1, b2, baseline_count, lift FROM l
WHERE current_count >= $6 AND CAST(current_count AS DOUBLE) >= $7 AND (baseline_count = 0 OR lift >= $8)
ORDER BY current_count DESC, service, step, error_code;
