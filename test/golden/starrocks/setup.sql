SELECT current_version() AS version;
-- values: []

SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ?;
-- values: ["tally"]

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

CREATE TABLE IF NOT EXISTS tally.daily_values (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  dim VARCHAR(32) NOT NULL,
  value VARCHAR(1024) NOT NULL,
  users BITMAP BITMAP_UNION NOT NULL
) AGGREGATE KEY(dt, project, dim, value)
PARTITION BY date_trunc('day', dt)
DISTRIBUTED BY HASH(project)
PROPERTIES ("replication_num" = "1");
-- values: []

CREATE TABLE IF NOT EXISTS tally.first_days (
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

CREATE TABLE IF NOT EXISTS tally.day_files (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  file VARCHAR(1024) NOT NULL,
  version VARCHAR(256) NOT NULL,
  bot_rows BIGINT NOT NULL
) DUPLICATE KEY(dt, project)
PARTITION BY date_trunc('day', dt)
DISTRIBUTED BY HASH(project)
PROPERTIES ("replication_num" = "1");
-- values: []

CREATE TABLE IF NOT EXISTS tally.bot_ids (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  id_hash BIGINT NOT NULL
) DUPLICATE KEY(dt, project, id_hash)
PARTITION BY date_trunc('day', dt)
DISTRIBUTED BY HASH(project)
PROPERTIES ("replication_num" = "1");
-- values: []

CREATE TABLE IF NOT EXISTS tally.refresh_rows (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  received_at DATETIME NOT NULL,
  event_time DATETIME NOT NULL,
  user_hash BIGINT,
  anonymous_hash BIGINT,
  type VARCHAR(16),
  previous_user_hash BIGINT,
  previous_anonymous_hash BIGINT,
  platform VARCHAR(1024),
  os VARCHAR(1024),
  browser VARCHAR(1024),
  device_type VARCHAR(1024),
  country VARCHAR(1024),
  app_version VARCHAR(1024),
  utm_source VARCHAR(1024),
  utm_campaign VARCHAR(1024),
  referrer_domain VARCHAR(1024)
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

CREATE TABLE IF NOT EXISTS tally.day_values (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  id_hash BIGINT NOT NULL,
  platform VARCHAR(1024),
  os VARCHAR(1024),
  browser VARCHAR(1024),
  device_type VARCHAR(1024),
  country VARCHAR(1024),
  app_version VARCHAR(1024),
  utm_source VARCHAR(1024),
  utm_campaign VARCHAR(1024),
  referrer_domain VARCHAR(1024)
) DUPLICATE KEY(dt, project, id_hash)
PARTITION BY date_trunc('day', dt)
DISTRIBUTED BY HASH(project)
PROPERTIES ("replication_num" = "1");
-- values: []

CREATE TABLE IF NOT EXISTS tally.id_first_day (
  project VARCHAR(64) NOT NULL,
  id_hash BIGINT NOT NULL,
  first_dt DATE NOT NULL
) PRIMARY KEY(project, id_hash)
DISTRIBUTED BY HASH(project, id_hash)
PROPERTIES ("replication_num" = "1");
-- values: []

CREATE TABLE IF NOT EXISTS tally.anon_links (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  anon_hash BIGINT NOT NULL,
  user_hash BIGINT NOT NULL,
  event_time DATETIME NOT NULL,
  received_at DATETIME NOT NULL
) DUPLICATE KEY(dt, project, anon_hash)
PARTITION BY date_trunc('day', dt)
DISTRIBUTED BY HASH(project)
PROPERTIES ("replication_num" = "1");
-- values: []

CREATE TABLE IF NOT EXISTS tally.alias_links (
  dt DATE NOT NULL,
  project VARCHAR(64) NOT NULL,
  from_hash BIGINT NOT NULL,
  to_hash BIGINT NOT NULL
) DUPLICATE KEY(dt, project, from_hash)
PARTITION BY date_trunc('day', dt)
DISTRIBUTED BY HASH(project)
PROPERTIES ("replication_num" = "1");
-- values: []

CREATE TABLE IF NOT EXISTS tally.refresh_evidence (
  kind VARCHAR(12) NOT NULL,
  project VARCHAR(64) NOT NULL,
  dt DATE NOT NULL,
  a BIGINT NOT NULL,
  b BIGINT NOT NULL,
  event_time DATETIME,
  received_at DATETIME
) DUPLICATE KEY(kind, project)
DISTRIBUTED BY HASH(project)
PROPERTIES ("replication_num" = "1");
-- values: []

CREATE TABLE IF NOT EXISTS tally.anon_first (
  project VARCHAR(64) NOT NULL,
  anon_hash BIGINT NOT NULL,
  user_hash BIGINT NOT NULL,
  event_time DATETIME NOT NULL,
  received_at DATETIME NOT NULL
) PRIMARY KEY(project, anon_hash)
DISTRIBUTED BY HASH(project, anon_hash)
PROPERTIES ("replication_num" = "1");
-- values: []

CREATE TABLE IF NOT EXISTS tally.refresh_ids (
  kind VARCHAR(12) NOT NULL,
  project VARCHAR(64) NOT NULL,
  id_hash BIGINT NOT NULL,
  start_hash BIGINT,
  person BIGINT,
  old_person BIGINT,
  user_hash BIGINT,
  event_time DATETIME,
  received_at DATETIME
) DUPLICATE KEY(kind, project, id_hash)
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

REFRESH EXTERNAL TABLE lake.tally_lake.events;
-- values: []
