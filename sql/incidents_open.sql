-- incidents_open: the engine's cache at start (spec triage §2.12): every incident whose latest
-- version is not resolved, with its version.
--
-- Parameters: none
--
-- Output: the incident_versions columns
-- Order: started_at ASC, incident_id ASC
SELECT * FROM incidents WHERE status <> 'resolved' ORDER BY started_at ASC, incident_id ASC
