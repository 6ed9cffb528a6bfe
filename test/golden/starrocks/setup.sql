SELECT current_version() AS version;
-- values: []

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

CREATE TABLE IF NOT EXISTS tally.event_index (
  project VARCHAR(64) NOT NULL,
  event_key VARCHAR(32) NOT NULL,
  dt DATE NOT NULL,
  received_at DATETIME NOT NULL,
  event_time DATETIME NOT NULL
) PRIMARY KEY(project, event_key)
DISTRIBUTED BY HASH(project, event_key)
PROPERTIES ("replication_num" = "1");
-- values: []

CREATE TABLE IF NOT EXISTS tally.refresh_rows (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  event_key VARCHAR(32) NOT NULL,
  type VARCHAR(16),
  received_at DATETIME,
  event_time DATETIME,
  user_hash BIGINT,
  anonymous_hash BIGINT,
  previous_user_hash BIGINT,
  previous_anonymous_hash BIGINT
) DUPLICATE KEY(dt, project)
DISTRIBUTED BY HASH(project)
PROPERTIES ("replication_num" = "1");
-- values: []

CREATE TABLE IF NOT EXISTS tally.day_ids (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  id_hash BIGINT NOT NULL
) DUPLICATE KEY(dt, project, id_hash)
PARTITION BY date_trunc('day', dt)
DISTRIBUTED BY HASH(project)
PROPERTIES ("replication_num" = "1");
-- values: []

CREATE TABLE IF NOT EXISTS tally.links (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  kind VARCHAR(8) NOT NULL,
  from_hash BIGINT NOT NULL,
  to_hash BIGINT NOT NULL,
  event_time DATETIME,
  received_at DATETIME
) DUPLICATE KEY(dt, project, kind)
PARTITION BY date_trunc('day', dt)
DISTRIBUTED BY HASH(project)
PROPERTIES ("replication_num" = "1");
-- values: []

CREATE TABLE IF NOT EXISTS tally.people (
  project VARCHAR(64) NOT NULL,
  id_hash BIGINT NOT NULL,
  person BIGINT NOT NULL
) PRIMARY KEY(project, id_hash)
DISTRIBUTED BY HASH(project, id_hash)
PROPERTIES ("replication_num" = "1");
-- values: []

CREATE TABLE IF NOT EXISTS tally.rollup_runs (
  name VARCHAR(16) NOT NULL,
  ran_at DATETIME NOT NULL
) PRIMARY KEY(name)
DISTRIBUTED BY HASH(name)
PROPERTIES ("replication_num" = "1");
-- values: []

CREATE TABLE IF NOT EXISTS tally.rollup_manifests (
  manifest_digest VARCHAR(32) NOT NULL,
  manifest_key VARCHAR(1024) NOT NULL,
  processed_at DATETIME
) PRIMARY KEY(manifest_digest)
DISTRIBUTED BY HASH(manifest_digest)
PROPERTIES ("replication_num" = "1");
-- values: []
