-- incidents_expired: incidents to prune (spec triage §2.12): those whose latest version is
-- resolved with resolved_at before the retention cutoff; all their versions are deleted.
--
-- Parameters:
--   $1  Timestamp  cutoff (now - WAYLOG_INCIDENT_RETENTION); resolved_at < $1 expires
--
-- Output: incident_id Utf8
-- Order: incident_id ASC
SELECT incident_id FROM incidents
WHERE status = 'resolved' AND resolved_at < $1
ORDER BY incident_id ASC
