-- incident_deployments: D of spec triage §2.5, the deployments of the family's service first
-- seen in [started_at - DCW, now] (latest state per id, from the `deployments` view).
--
-- Parameters:
--   $1  Utf8       service
--   $2  Timestamp  started_at - DCW, inclusive
--   $3  Timestamp  now, inclusive
--
-- Output: id, service, env, version, metadata, commit_sha, pr_url, commit_author, first_seen,
--         last_seen
-- Order: first_seen DESC, id ASC (total: ids are unique in the view)
SELECT id, service, env, version, metadata, commit_sha, pr_url, commit_author, first_seen,
       last_seen
FROM deployments
WHERE service = $1 AND first_seen >= $2 AND first_seen <= $3
ORDER BY first_seen DESC, id ASC
