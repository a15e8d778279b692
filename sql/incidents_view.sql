-- incidents_view: the `incidents` view (spec triage §2.12), the latest version of every
-- incident: the highest `version` per `incident_id` of `incident_versions`.
--
-- Output: the incident_versions columns
-- Order: none (a view)
SELECT incident_id, env, service, error_service, error_step, error_code, status, cause,
       confidence, severity, started_at, updated_at, last_seen_at, recovering_at, resolved_at,
       affected_requests, affected_services, affected_users, top_services, sample_traces,
       evidence_json, next_checks, instrumentation_warnings, lift, baseline_count,
       current_count, suspect_deploy_id, propagation_json, blast_json, alerts_json,
       runtime_json, suspect_dimensions_json, version, written_at
FROM (
    SELECT *, row_number() OVER (PARTITION BY incident_id ORDER BY version DESC) AS rn
    FROM incident_versions
) latest
WHERE rn = 1
