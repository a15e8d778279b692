-- deployments_list: deployments first seen in a window (spec events §5.2), from the
-- `deployments` view (latest state per id).
--
-- Parameters:
--   $1  Timestamp  window start (first_seen >= $1)
--   $2  Timestamp  window end (first_seen <= $2)
--   $3  Utf8       service, exact; '' = any
--
-- Output: id, service, env, version, metadata, commit_sha, pr_url, commit_author, first_seen,
--         last_seen
-- Order: first_seen DESC, id ASC (total: id is unique in the view)
SELECT id, service, env, version, metadata, commit_sha, pr_url, commit_author, first_seen,
       last_seen
FROM deployments
WHERE first_seen >= $1 AND first_seen <= $2 AND ($3 = '' OR service = $3)
ORDER BY first_seen DESC, id ASC
