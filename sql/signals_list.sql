-- signals_list: one page of GET /v1/signals (spec triage §1.5), newest first.
--
-- Parameters:
--   $1  Timestamp  window since (inclusive, on timestamp)
--   $2  Timestamp  window until (inclusive)
--   $3  Utf8       service, exact; '' = any
--   $4  Utf8       env, exact; '' = any
--   $5  Utf8       source, exact; '' = any
--   $6  Utf8       reason, exact; '' = any
--   $7  Utf8       comma-separated types; '' = any
--   $8  Utf8       comma-separated severities; '' = any
--   $9  Timestamp  cursor timestamp; 2262-04-11T23:47:16.854775807Z = first page
--   $10 Utf8       cursor signal_id ('' on the first page)
--   $11 Int64      rows to return (page limit + 1)
--
-- Output: the stored signal columns (signal_id ... extra, timestamp, received_at)
-- Order: timestamp DESC, signal_id DESC (total: signal ids are unique)
SELECT signal_id, type, source, service, env, severity, reason, message, resource, metadata,
       extra, timestamp, received_at
FROM signals
WHERE timestamp BETWEEN $1 AND $2
  AND ($3 = '' OR service = $3)
  AND ($4 = '' OR env = $4)
  AND ($5 = '' OR source = $5)
  AND ($6 = '' OR reason = $6)
  AND ($7 = '' OR array_has(string_to_array($7, ','), type))
  AND ($8 = '' OR array_has(string_to_array($8, ','), severity))
  AND (timestamp < $9 OR (timestamp = $9 AND signal_id < $10))
ORDER BY timestamp DESC, signal_id DESC
LIMIT $11
