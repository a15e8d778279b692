-- incident_failing_events: E of spec triage §2.5, the failing events of one error family in the
-- current window (any env), never truncated. The classification, sample traces and the
-- propagation capture are derived from them in Rust.
--
-- Parameters:
--   $1  Timestamp  now - W (C lower bound, inclusive)
--   $2  Timestamp  now (C upper bound, inclusive)
--   $3  Utf8       family service
--   $4  Utf8       family step (anchor step; '' matches a missing step)
--   $5  Utf8       family error code
--
-- Output: the stored event columns (event_id ... errors, fields) that rebuild a WideEvent
-- Order: ts_start DESC, trace_id ASC, event_id ASC (newest first; total up to re-sends)
SELECT event_id, trace_id, span_id, parent_span_id, ts_start, ts_end, duration_ms, kind,
       service, env, status, version, anchor_step, anchor_error_code, anchor_kind,
       steps, logs, errors, fields
FROM events
WHERE ts_start >= $1 AND ts_start <= $2
  AND service = $3
  AND coalesce(anchor_step, '') = $4
  AND anchor_error_code = $5
  AND status IN ('error', 'timeout', 'partial', 'aborted')
ORDER BY ts_start DESC, trace_id ASC, event_id ASC
