SELECT manifest_key FROM tally.rollup_manifests WHERE manifest_key LIKE ?;
-- values: ["manifests/2026-03-31/%"]

INSERT INTO tally.rollup_manifests (manifest_digest, manifest_key, processed_at) VALUES (?, ?, now()), (?, ?, now());
-- values: ["7dc32e1ae3a301369bdd893a0337674f","manifests/2026-03-31/11/b.json","7e3235ee264b341e92cec7e7202f778b","manifests/2026-03-31/11/c.json"]

SELECT CAST(max(computed_at) AS VARCHAR) AS at FROM tally.active_users WHERE project = ?;
-- values: ["shop"]
