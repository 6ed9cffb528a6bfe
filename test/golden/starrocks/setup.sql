CREATE DATABASE IF NOT EXISTS tally;
-- values: []

CREATE TABLE IF NOT EXISTS tally.daily_users (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  users BITMAP BITMAP_UNION NOT NULL
) AGGREGATE KEY(dt, project)
PARTITION BY date_trunc('day', dt)
DISTRIBUTED BY HASH(project)
PROPERTIES ("replication_num" = "1");
-- values: []

CREATE TABLE IF NOT EXISTS tally.active_users (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  dau BIGINT,
  wau BIGINT,
  mau BIGINT,
  computed_at DATETIME
) PRIMARY KEY(dt, project)
DISTRIBUTED BY HASH(project)
PROPERTIES ("replication_num" = "1");
-- values: []

CREATE TABLE IF NOT EXISTS tally.rollup_manifests (
  manifest_key VARCHAR(512) NOT NULL,
  processed_at DATETIME
) PRIMARY KEY(manifest_key)
DISTRIBUTED BY HASH(manifest_key)
PROPERTIES ("replication_num" = "1");
-- values: []
