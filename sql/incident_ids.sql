-- incident_ids: every incident id ever written (spec triage §2.2: a resolved id is never
-- reused), loaded once at engine start.
--
-- Parameters: none
--
-- Output: incident_id Utf8
-- Order: incident_id ASC
SELECT DISTINCT incident_id FROM incident_versions ORDER BY incident_id ASC
