-- incidents_list: the incidents of GET /v1/incidents/active and GET /v1/incidents/{id}
-- (spec triage §5), each in its latest version (the `incidents` view).
--
-- Parameters:
--   $1  Utf8       incident_id, exact: that one incident, any status;
--                  '' = every incident whose status is not 'resolved'
--   $2  Utf8       env, exact, for the non-resolved list; '' = any (ignored with an id)
--
-- Output: the incident_versions columns (incident_id ... version, written_at)
-- Order: severity DESC, started_at DESC, incident_id ASC (total: the view has one row per id)
SELECT *
FROM incidents
WHERE CASE
        WHEN $1 = '' THEN status <> 'resolved' AND ($2 = '' OR env = $2)
        ELSE incident_id = $1
      END
ORDER BY severity DESC, started_at DESC, incident_id ASC
