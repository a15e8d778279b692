-- deployments_view: the `deployments` view, the latest state of every deployment (spec events
-- §5): the highest revision per id of `deployment_versions`.
--
-- Output: id, service, env, version, metadata, commit_sha, pr_url, commit_author, first_seen,
--         last_seen
-- Order: none (a view)
SELECT id, service, env, version, metadata, commit_sha, pr_url, commit_author, first_seen,
       last_seen
FROM (
    SELECT *, row_number() OVER (PARTITION BY id ORDER BY revision DESC, last_seen DESC) AS rn
    FROM deployment_versions
) latest
WHERE rn = 1
