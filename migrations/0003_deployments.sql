-- 0003_deployments: deployments (spec events §5). Upserts append the whole new state of a
-- deployment as a row of `deployment_versions` through the WAL; the `deployments` view
-- (sql/deployments_view.sql) shows the highest `revision` per `id`. Tables 0001-0002 unchanged.
CREATE TABLE deployment_versions (
    id            Utf8 NOT NULL,                 -- upsert key (client id, or otlp:<service>:<env>:<version>)
    service       Utf8 NOT NULL,                 -- never changes for an id
    env           Utf8 NOT NULL,                 -- never changes for an id (409 ENV_CONFLICT)
    version       Utf8,                          -- null when empty
    metadata      Utf8,                          -- compact JSON object of strings; null when empty
    commit_sha    Utf8,                          -- trimmed; null when empty
    pr_url        Utf8,
    commit_author Utf8,
    first_seen    Timestamp(ns, "UTC") NOT NULL, -- server clock at the first upsert of the id
    last_seen     Timestamp(ns, "UTC") NOT NULL, -- server clock at this upsert
    revision      UInt64 NOT NULL                -- 1, 2, ... per id
);

-- CREATE VIEW deployments AS <sql/deployments_view.sql>:
--   id, service, env, version, metadata, commit_sha, pr_url, commit_author, first_seen, last_seen
