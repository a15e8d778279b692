-- incident_signals: the signals an incident build correlates with (spec triage §2.5 S, R and
-- the alert signals of §7.6), all types, services and envs with timestamp in [$1, $2]; the
-- engine filters them per rule. Newest first, so "the first match" is the most recent one.
--
-- Parameters:
--   $1  Timestamp  lower bound (started_at - max(DCW, AMW)), inclusive
--   $2  Timestamp  upper bound (now + AMW), inclusive
--
-- Output: the stored signal columns (signal_id ... extra, timestamp, received_at)
-- Order: timestamp DESC, signal_id DESC (total)
SELECT signal_id, type, source, service, env, severity, reason, message, resource, metadata,
       extra, timestamp, received_at
FROM signals
WHERE timestamp >= $1 AND timestamp <= $2
ORDER BY timestamp DESC, signal_id DESC
