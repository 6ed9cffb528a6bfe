SELECT manifest_key FROM tally.rollup_manifests WHERE manifest_key LIKE ?;
-- values: ["manifests/2026-03-31/%"]

INSERT INTO tally.rollup_manifests (manifest_key, processed_at) VALUES (?, now()), (?, now());
-- values: ["manifests/2026-03-31/11/b.json","manifests/2026-03-31/11/c.json"]

SELECT CAST(max(computed_at) AS VARCHAR) AS at FROM tally.active_users WHERE project = ?;
-- values: ["shop"]
