SELECT project, CAST(dt AS VARCHAR) AS dt, file, version FROM tally.day_files
WHERE dt IN (?, ?) AND project <> '';
-- values: ["2026-03-29","2026-03-30"]

TRUNCATE TABLE tally.refresh_rows;
-- values: []

INSERT INTO tally.refresh_rows (dt, project, received_at, event_time, user_hash, anonymous_hash, type, previous_user_hash,
  previous_anonymous_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain)
SELECT CAST(dt AS DATE), project, received_at, event_time, user_hash, anonymous_hash, type, previous_user_hash,
  previous_anonymous_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain
FROM FILES('path' = ?, 'format' = 'parquet', 'columns_from_path' = 'project,dt', 'auto_detect_sample_files' = '3', 'aws.s3.use_instance_profile' = 'true', 'aws.s3.region' = 'eu-west-1') f WHERE NOT coalesce(bot, false);
-- values: ["s3://tally-lake-123/events/project=shop/dt=2026-03-29/s-3.parquet,s3://tally-lake-123/events/project=blog/dt=2026-03-30/s-2.parquet,s3://tally-lake-123/events/project=blog/dt=2026-03-30/s-4.parquet"]

SELECT DISTINCT project, CAST(dt AS VARCHAR) AS dt FROM tally.day_ids
WHERE dt IN (?, ?) AND project <> ''
UNION SELECT DISTINCT project, CAST(dt AS VARCHAR) AS dt FROM tally.refresh_rows c;
-- values: ["2026-03-29","2026-03-30"]

INSERT OVERWRITE tally.refresh_evidence (kind, project, dt, a, b, event_time, received_at)
SELECT 'anon-old', project, dt, anon_hash, user_hash, event_time, received_at FROM tally.anon_links
WHERE dt IN (?, ?) AND project <> ''
UNION ALL
SELECT 'alias-old', project, dt, from_hash, to_hash, NULL, NULL FROM tally.alias_links
WHERE dt IN (?, ?) AND project <> ''
UNION ALL
SELECT 'anon-new', project, dt, anon, user_hash, event_time, received_at FROM (
  SELECT project, dt, anon, user_hash, event_time, received_at,
    row_number() OVER (PARTITION BY project, dt, anon ORDER BY event_time, received_at, user_hash) AS nth
  FROM (
    SELECT project, dt, anonymous_hash AS anon, user_hash, event_time, received_at FROM tally.refresh_rows c1
    WHERE anonymous_hash IS NOT NULL AND user_hash IS NOT NULL
    UNION ALL
    SELECT project, dt, previous_anonymous_hash, user_hash, event_time, received_at FROM tally.refresh_rows c2
    WHERE type = 'alias' AND previous_anonymous_hash IS NOT NULL AND user_hash IS NOT NULL
    UNION ALL SELECT project, dt, anon_hash, user_hash, event_time, received_at FROM tally.anon_links WHERE dt IN (?) AND project <> ''
  ) e
) f WHERE nth = 1
UNION ALL
SELECT DISTINCT 'alias-new', project, dt, a, b, NULL, NULL FROM (
  SELECT project, dt, previous_user_hash AS a, user_hash AS b FROM tally.refresh_rows c3
  WHERE type = 'alias' AND previous_user_hash IS NOT NULL AND user_hash IS NOT NULL AND previous_user_hash <> user_hash
  UNION ALL SELECT project, dt, from_hash, to_hash FROM tally.alias_links WHERE dt IN (?) AND project <> ''
) l;
-- values: ["2026-03-29","2026-03-30","2026-03-29","2026-03-30","2026-03-29","2026-03-29"]

INSERT INTO tally.refresh_evidence (kind, project, dt, a, b, event_time, received_at)
SELECT 'anon+', project, dt, a, b, event_time, received_at FROM (SELECT project, dt, a, b, event_time, received_at FROM tally.refresh_evidence WHERE kind = 'anon-new' EXCEPT SELECT project, dt, a, b, event_time, received_at FROM tally.refresh_evidence WHERE kind = 'anon-old') d1
UNION ALL
SELECT 'anon-', project, dt, a, b, event_time, received_at FROM (SELECT project, dt, a, b, event_time, received_at FROM tally.refresh_evidence WHERE kind = 'anon-old' EXCEPT SELECT project, dt, a, b, event_time, received_at FROM tally.refresh_evidence WHERE kind = 'anon-new') d2
UNION ALL
SELECT 'alias+', project, dt, a, b, NULL, NULL FROM (SELECT project, dt, a, b, event_time, received_at FROM tally.refresh_evidence WHERE kind = 'alias-new' EXCEPT SELECT project, dt, a, b, event_time, received_at FROM tally.refresh_evidence WHERE kind = 'alias-old') d3
UNION ALL
SELECT 'alias-', project, dt, a, b, NULL, NULL FROM (SELECT project, dt, a, b, event_time, received_at FROM tally.refresh_evidence WHERE kind = 'alias-old' EXCEPT SELECT project, dt, a, b, event_time, received_at FROM tally.refresh_evidence WHERE kind = 'alias-new') d4;
-- values: []

SELECT count(*) AS n FROM tally.refresh_evidence WHERE kind IN ('anon+', 'anon-', 'alias+', 'alias-');
-- values: []

INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE tally.daily_users (dt, project, users)
SELECT i.dt, i.project, bitmap_union(to_bitmap(coalesce(c.person, p.person, i.id_hash))) FROM (
  SELECT DISTINCT dt, project, coalesce(user_hash, anonymous_hash) AS id_hash FROM tally.refresh_rows r
  WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL
  UNION ALL SELECT dt, project, id_hash FROM tally.day_ids WHERE dt IN (?) AND project <> ''
) i
LEFT JOIN (SELECT * FROM tally.refresh_ids WHERE kind = 'changed') c ON c.project = i.project AND c.id_hash = i.id_hash
LEFT JOIN tally.people p ON p.project = i.project AND p.id_hash = i.id_hash
GROUP BY i.dt, i.project
UNION ALL SELECT CAST(? AS DATE), '', bitmap_empty() UNION ALL SELECT CAST(? AS DATE), '', bitmap_empty();
-- values: ["2026-03-29","2026-03-29","2026-03-30"]

INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE tally.daily_values (dt, project, dim, value, users)
SELECT i.dt, i.project, i.dim, i.value, bitmap_union(to_bitmap(coalesce(c.person, p.person, i.id_hash))) FROM (
  SELECT DISTINCT dt, project, 'platform' AS dim, coalesce(platform, '') AS value, id_hash FROM (
    SELECT DISTINCT dt, project, coalesce(user_hash, anonymous_hash) AS id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain
  FROM tally.refresh_rows r WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL
    UNION ALL SELECT dt, project, id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain FROM tally.day_values WHERE dt IN (?) AND project <> ''
  ) v
UNION ALL SELECT DISTINCT dt, project, 'os' AS dim, coalesce(os, '') AS value, id_hash FROM (
    SELECT DISTINCT dt, project, coalesce(user_hash, anonymous_hash) AS id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain
  FROM tally.refresh_rows r WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL
    UNION ALL SELECT dt, project, id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain FROM tally.day_values WHERE dt IN (?) AND project <> ''
  ) v
UNION ALL SELECT DISTINCT dt, project, 'browser' AS dim, coalesce(browser, '') AS value, id_hash FROM (
    SELECT DISTINCT dt, project, coalesce(user_hash, anonymous_hash) AS id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain
  FROM tally.refresh_rows r WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL
    UNION ALL SELECT dt, project, id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain FROM tally.day_values WHERE dt IN (?) AND project <> ''
  ) v
UNION ALL SELECT DISTINCT dt, project, 'device_type' AS dim, coalesce(device_type, '') AS value, id_hash FROM (
    SELECT DISTINCT dt, project, coalesce(user_hash, anonymous_hash) AS id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain
  FROM tally.refresh_rows r WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL
    UNION ALL SELECT dt, project, id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain FROM tally.day_values WHERE dt IN (?) AND project <> ''
  ) v
UNION ALL SELECT DISTINCT dt, project, 'country' AS dim, coalesce(country, '') AS value, id_hash FROM (
    SELECT DISTINCT dt, project, coalesce(user_hash, anonymous_hash) AS id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain
  FROM tally.refresh_rows r WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL
    UNION ALL SELECT dt, project, id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain FROM tally.day_values WHERE dt IN (?) AND project <> ''
  ) v
UNION ALL SELECT DISTINCT dt, project, 'app_version' AS dim, coalesce(app_version, '') AS value, id_hash FROM (
    SELECT DISTINCT dt, project, coalesce(user_hash, anonymous_hash) AS id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain
  FROM tally.refresh_rows r WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL
    UNION ALL SELECT dt, project, id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain FROM tally.day_values WHERE dt IN (?) AND project <> ''
  ) v
UNION ALL SELECT DISTINCT dt, project, 'utm_source' AS dim, coalesce(utm_source, '') AS value, id_hash FROM (
    SELECT DISTINCT dt, project, coalesce(user_hash, anonymous_hash) AS id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain
  FROM tally.refresh_rows r WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL
    UNION ALL SELECT dt, project, id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain FROM tally.day_values WHERE dt IN (?) AND project <> ''
  ) v
UNION ALL SELECT DISTINCT dt, project, 'utm_campaign' AS dim, coalesce(utm_campaign, '') AS value, id_hash FROM (
    SELECT DISTINCT dt, project, coalesce(user_hash, anonymous_hash) AS id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain
  FROM tally.refresh_rows r WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL
    UNION ALL SELECT dt, project, id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain FROM tally.day_values WHERE dt IN (?) AND project <> ''
  ) v
UNION ALL SELECT DISTINCT dt, project, 'referrer_domain' AS dim, coalesce(referrer_domain, '') AS value, id_hash FROM (
    SELECT DISTINCT dt, project, coalesce(user_hash, anonymous_hash) AS id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain
  FROM tally.refresh_rows r WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL
    UNION ALL SELECT dt, project, id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain FROM tally.day_values WHERE dt IN (?) AND project <> ''
  ) v
) i
LEFT JOIN (SELECT * FROM tally.refresh_ids WHERE kind = 'changed') c ON c.project = i.project AND c.id_hash = i.id_hash
LEFT JOIN tally.people p ON p.project = i.project AND p.id_hash = i.id_hash
GROUP BY i.dim, i.value, i.dt, i.project
UNION ALL SELECT CAST(? AS DATE), '', '', '', bitmap_empty() UNION ALL SELECT CAST(? AS DATE), '', '', '', bitmap_empty();
-- values: ["2026-03-29","2026-03-29","2026-03-29","2026-03-29","2026-03-29","2026-03-29","2026-03-29","2026-03-29","2026-03-29","2026-03-29","2026-03-30"]

SELECT DISTINCT CAST(dt AS VARCHAR) AS dt FROM tally.daily_users WHERE dt >= ? AND project <> '';
-- values: ["2026-03-29"]

INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE tally.first_days (dt, project, users)
SELECT d.dt, d.project, bitmap_andnot(d.users, p.before) FROM tally.daily_users d
JOIN (
  SELECT d.dt, d.project, bitmap_union(e.users) AS before FROM tally.daily_users d
  JOIN (
    SELECT dt, project, users FROM tally.first_days WHERE dt < ? AND project <> ''
    UNION ALL SELECT u.dt, u.project, u.users FROM tally.daily_users u WHERE u.dt IN (?, ?) AND u.project <> ''
    UNION ALL SELECT CAST('0000-01-01' AS DATE) AS dt, u.project, bitmap_empty() AS users FROM tally.daily_users u WHERE u.dt IN (?, ?) AND u.project <> ''
  ) e ON e.project = d.project AND e.dt < d.dt
  WHERE d.dt IN (?, ?) AND d.project <> ''
  GROUP BY d.dt, d.project
) p ON p.dt = d.dt AND p.project = d.project
WHERE d.dt IN (?, ?) AND d.project <> ''
UNION ALL SELECT CAST(? AS DATE), '', bitmap_empty() UNION ALL SELECT CAST(? AS DATE), '', bitmap_empty();
-- values: ["2026-03-29","2026-03-29","2026-03-30","2026-03-29","2026-03-30","2026-03-29","2026-03-30","2026-03-29","2026-03-30","2026-03-29","2026-03-30"]

INSERT INTO tally.active_users (dt, project, dau, wau, mau, computed_at)
SELECT c.dt AS dt, ? AS project, coalesce(d.n, 0) AS dau, coalesce(w.n, 0) AS wau,
  coalesce(m.n, 0) AS mau, now() AS computed_at
FROM (SELECT CAST(? AS DATE) AS dt UNION ALL SELECT CAST(? AS DATE) AS dt) c
LEFT JOIN (SELECT c.dt, bitmap_union_count(u.users) AS n
  FROM (SELECT CAST(? AS DATE) AS dt UNION ALL SELECT CAST(? AS DATE) AS dt) c
  JOIN tally.daily_users u
    ON u.project = ? AND u.dt BETWEEN ? AND ? AND u.dt BETWEEN date_sub(c.dt, INTERVAL 29 DAY) AND c.dt
  GROUP BY c.dt) m ON m.dt = c.dt
LEFT JOIN (SELECT c.dt, bitmap_union_count(u.users) AS n
  FROM (SELECT CAST(? AS DATE) AS dt UNION ALL SELECT CAST(? AS DATE) AS dt) c
  JOIN tally.daily_users u
    ON u.project = ? AND u.dt BETWEEN ? AND ? AND u.dt BETWEEN date_sub(c.dt, INTERVAL 6 DAY) AND c.dt
  GROUP BY c.dt) w ON w.dt = c.dt
LEFT JOIN (SELECT c.dt, bitmap_union_count(u.users) AS n
  FROM (SELECT CAST(? AS DATE) AS dt UNION ALL SELECT CAST(? AS DATE) AS dt) c
  JOIN tally.daily_users u
    ON u.project = ? AND u.dt BETWEEN ? AND ? AND u.dt BETWEEN date_sub(c.dt, INTERVAL 0 DAY) AND c.dt
  GROUP BY c.dt) d ON d.dt = c.dt;
-- values: ["blog","2026-03-30","2026-03-31","2026-03-30","2026-03-31","blog","2026-03-01","2026-03-31","2026-03-30","2026-03-31","blog","2026-03-01","2026-03-31","2026-03-30","2026-03-31","blog","2026-03-01","2026-03-31"]

INSERT INTO tally.active_users (dt, project, dau, wau, mau, computed_at)
SELECT c.dt AS dt, ? AS project, coalesce(d.n, 0) AS dau, coalesce(w.n, 0) AS wau,
  coalesce(m.n, 0) AS mau, now() AS computed_at
FROM (SELECT CAST(? AS DATE) AS dt UNION ALL SELECT CAST(? AS DATE) AS dt UNION ALL SELECT CAST(? AS DATE) AS dt) c
LEFT JOIN (SELECT c.dt, bitmap_union_count(u.users) AS n
  FROM (SELECT CAST(? AS DATE) AS dt UNION ALL SELECT CAST(? AS DATE) AS dt UNION ALL SELECT CAST(? AS DATE) AS dt) c
  JOIN tally.daily_users u
    ON u.project = ? AND u.dt BETWEEN ? AND ? AND u.dt BETWEEN date_sub(c.dt, INTERVAL 29 DAY) AND c.dt
  GROUP BY c.dt) m ON m.dt = c.dt
LEFT JOIN (SELECT c.dt, bitmap_union_count(u.users) AS n
  FROM (SELECT CAST(? AS DATE) AS dt UNION ALL SELECT CAST(? AS DATE) AS dt UNION ALL SELECT CAST(? AS DATE) AS dt) c
  JOIN tally.daily_users u
    ON u.project = ? AND u.dt BETWEEN ? AND ? AND u.dt BETWEEN date_sub(c.dt, INTERVAL 6 DAY) AND c.dt
  GROUP BY c.dt) w ON w.dt = c.dt
LEFT JOIN (SELECT c.dt, bitmap_union_count(u.users) AS n
  FROM (SELECT CAST(? AS DATE) AS dt UNION ALL SELECT CAST(? AS DATE) AS dt UNION ALL SELECT CAST(? AS DATE) AS dt) c
  JOIN tally.daily_users u
    ON u.project = ? AND u.dt BETWEEN ? AND ? AND u.dt BETWEEN date_sub(c.dt, INTERVAL 0 DAY) AND c.dt
  GROUP BY c.dt) d ON d.dt = c.dt;
-- values: ["shop","2026-03-29","2026-03-30","2026-03-31","2026-03-29","2026-03-30","2026-03-31","shop","2026-02-28","2026-03-31","2026-03-29","2026-03-30","2026-03-31","shop","2026-02-28","2026-03-31","2026-03-29","2026-03-30","2026-03-31","shop","2026-02-28","2026-03-31"]

INSERT INTO tally.id_first_day (project, id_hash, first_dt)
SELECT c.project, c.id_hash, c.first_dt FROM (
  SELECT project, coalesce(user_hash, anonymous_hash) AS id_hash, min(dt) AS first_dt FROM tally.refresh_rows r
  WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL
  GROUP BY project, coalesce(user_hash, anonymous_hash)
) c
LEFT JOIN tally.id_first_day f ON f.project = c.project AND f.id_hash = c.id_hash
WHERE f.first_dt IS NULL OR f.first_dt > c.first_dt;
-- values: []

INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE tally.day_ids (dt, project, id_hash)
SELECT DISTINCT dt, project, id_hash FROM (
  SELECT dt, project, coalesce(user_hash, anonymous_hash) AS id_hash FROM tally.refresh_rows c
  WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL
  UNION ALL SELECT dt, project, id_hash FROM tally.day_ids WHERE dt IN (?) AND project <> ''
) i
UNION ALL SELECT CAST(? AS DATE), '', 0 UNION ALL SELECT CAST(? AS DATE), '', 0;
-- values: ["2026-03-29","2026-03-29","2026-03-30"]

INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE tally.day_values (dt, project, id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain)
SELECT DISTINCT dt, project, id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain FROM (
  SELECT DISTINCT dt, project, coalesce(user_hash, anonymous_hash) AS id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain
  FROM tally.refresh_rows c WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL
  UNION ALL SELECT dt, project, id_hash, platform, os, browser, device_type, country, app_version, utm_source, utm_campaign, referrer_domain FROM tally.day_values WHERE dt IN (?) AND project <> ''
) v
UNION ALL SELECT CAST(? AS DATE), '', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL UNION ALL SELECT CAST(? AS DATE), '', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL;
-- values: ["2026-03-29","2026-03-29","2026-03-30"]

INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE tally.anon_links
  (dt, project, anon_hash, user_hash, event_time, received_at)
SELECT dt, project, a, b, event_time, received_at FROM tally.refresh_evidence WHERE kind = 'anon-new'
UNION ALL SELECT CAST(? AS DATE), '', 0, 0, CAST('1970-01-01 00:00:00' AS DATETIME), CAST('1970-01-01 00:00:00' AS DATETIME) UNION ALL SELECT CAST(? AS DATE), '', 0, 0, CAST('1970-01-01 00:00:00' AS DATETIME), CAST('1970-01-01 00:00:00' AS DATETIME);
-- values: ["2026-03-29","2026-03-30"]

INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE tally.alias_links (dt, project, from_hash, to_hash)
SELECT dt, project, a, b FROM tally.refresh_evidence WHERE kind = 'alias-new'
UNION ALL SELECT CAST(? AS DATE), '', 0, 0 UNION ALL SELECT CAST(? AS DATE), '', 0, 0;
-- values: ["2026-03-29","2026-03-30"]

DELETE FROM tally.bot_ids WHERE dt IN (?);
-- values: ["2026-03-30"]

DELETE FROM tally.day_files WHERE dt IN (?);
-- values: ["2026-03-30"]

INSERT INTO tally.bot_ids (dt, project, id_hash)
SELECT DISTINCT CAST(dt AS DATE), project, coalesce(user_hash, anonymous_hash) FROM FILES('path' = ?, 'format' = 'parquet', 'columns_from_path' = 'project,dt', 'auto_detect_sample_files' = '3', 'aws.s3.use_instance_profile' = 'true', 'aws.s3.region' = 'eu-west-1') f
WHERE coalesce(bot, false) AND coalesce(user_hash, anonymous_hash) IS NOT NULL;
-- values: ["s3://tally-lake-123/events/project=shop/dt=2026-03-29/s-3.parquet,s3://tally-lake-123/events/project=blog/dt=2026-03-30/s-2.parquet,s3://tally-lake-123/events/project=blog/dt=2026-03-30/s-4.parquet"]

SELECT project, dt, count(*) AS n FROM FILES('path' = ?, 'format' = 'parquet', 'columns_from_path' = 'project,dt', 'auto_detect_sample_files' = '3', 'aws.s3.use_instance_profile' = 'true', 'aws.s3.region' = 'eu-west-1') f WHERE coalesce(bot, false) GROUP BY project, dt;
-- values: ["s3://tally-lake-123/events/project=shop/dt=2026-03-29/s-3.parquet,s3://tally-lake-123/events/project=blog/dt=2026-03-30/s-2.parquet,s3://tally-lake-123/events/project=blog/dt=2026-03-30/s-4.parquet"]

INSERT INTO tally.day_files (dt, project, file, version, bot_rows) VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?), (?, ?, ?, ?, ?);
-- values: ["2026-03-29","shop","events/project=shop/dt=2026-03-29/s-3.parquet","c",0,"2026-03-30","blog","events/project=blog/dt=2026-03-30/s-2.parquet","b2",0,"2026-03-30","blog","events/project=blog/dt=2026-03-30/s-4.parquet","d",0]
