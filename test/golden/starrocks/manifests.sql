SELECT manifest_key FROM tally.rollup_manifests WHERE manifest_key LIKE ?;
-- values: ["manifests/2026-03-31/%"]

INSERT INTO tally.rollup_manifests (manifest_digest, manifest_key, processed_at) VALUES (?, ?, now()), (?, ?, now());
-- values: ["7dc32e1ae3a301369bdd893a0337674f","manifests/2026-03-31/11/b.json","7e3235ee264b341e92cec7e7202f778b","manifests/2026-03-31/11/c.json"]

INSERT INTO tally.rollup_runs (name, ran_at) VALUES ('last', ?);
-- values: ["2026-03-31 10:05:00.000"]

SELECT CAST(max(ran_at) AS VARCHAR) AS at FROM tally.rollup_runs;
-- values: []
