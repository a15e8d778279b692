-- triage_deployment: the suspect deployment of a TriageReport (spec triage §6.2), its latest
-- state from the `deployments` view.
--
-- Parameters:
--   $1  Utf8       deployment id
--
-- Output: id, service, env, version, metadata, commit_sha, pr_url, commit_author, first_seen,
--         last_seen
-- Order: id ASC (at most one row: ids are unique in the view)
SELECT id, service, env, version, metadata, commit_sha, pr_url, commit_author, first_seen,
       last_seen
FROM deployments
WHERE id = $1
ORDER BY id ASC
