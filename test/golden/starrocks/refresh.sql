REFRESH EXTERNAL TABLE lake.tally_lake.events PARTITION ('project=blog/dt=2026-03-30', 'project=shop/dt=2026-03-29');
-- values: []

SELECT DISTINCT CAST(i.dt AS VARCHAR) AS dt FROM tally.event_index i
JOIN (
  SELECT project, md5(event_id) AS event_key, received_at, event_time FROM lake.tally_lake.events WHERE dt IN (?, ?)
) s ON s.project = i.project AND s.event_key = i.event_key
WHERE i.dt NOT IN (?, ?)
  AND (s.received_at < i.received_at OR (s.received_at = i.received_at AND s.event_time < i.event_time));
-- values: ["2026-03-29","2026-03-30","2026-03-29","2026-03-30"]

INSERT OVERWRITE tally.refresh_rows (dt, project, event_key, type, received_at, event_time, user_hash, anonymous_hash, previous_user_hash, previous_anonymous_hash)
SELECT dt, project, event_key, type, received_at, event_time, user_hash, anonymous_hash, previous_user_hash, previous_anonymous_hash FROM (SELECT s.* FROM (SELECT project, CAST(dt AS DATE) AS dt, md5(event_id) AS event_key, type, received_at, event_time,
    user_hash, anonymous_hash, previous_user_hash, previous_anonymous_hash,
    row_number() OVER (PARTITION BY project, event_id
      ORDER BY received_at, event_time, coalesce(user_hash, -1), coalesce(anonymous_hash, -1)) AS copy
  FROM lake.tally_lake.events WHERE dt IN (?, ?)) s
  LEFT JOIN (SELECT project, event_key FROM tally.event_index WHERE dt NOT IN (?, ?)) o
    ON o.project = s.project AND o.event_key = s.event_key
  WHERE s.copy = 1 AND o.event_key IS NULL) c;
-- values: ["2026-03-29","2026-03-30","2026-03-29","2026-03-30"]

DELETE FROM tally.event_index WHERE dt IN (?, ?);
-- values: ["2026-03-29","2026-03-30"]

INSERT INTO tally.event_index (project, event_key, dt, received_at, event_time)
SELECT project, event_key, dt, received_at, event_time FROM tally.refresh_rows;
-- values: []

SELECT DISTINCT project, CAST(dt AS VARCHAR) AS dt FROM tally.day_ids
WHERE dt IN (?, ?) AND project <> '';
-- values: ["2026-03-29","2026-03-30"]

INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE tally.day_ids (dt, project, id_hash)
SELECT DISTINCT dt, project, coalesce(user_hash, anonymous_hash) FROM tally.refresh_rows
WHERE coalesce(user_hash, anonymous_hash) IS NOT NULL
UNION ALL SELECT CAST(? AS DATE), '', 0 UNION ALL SELECT CAST(? AS DATE), '', 0;
-- values: ["2026-03-29","2026-03-30"]

SELECT DISTINCT project FROM tally.links WHERE dt IN (?, ?) AND project <> '';
-- values: ["2026-03-29","2026-03-30"]

INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE tally.links
  (dt, project, kind, from_hash, to_hash, event_time, received_at)
SELECT dt, project, kind, from_hash, to_hash, event_time, received_at FROM (
  SELECT dt, project, kind, from_hash, to_hash, event_time, received_at,
    row_number() OVER (PARTITION BY project, dt, kind, from_hash, alias_to ORDER BY event_time, received_at, to_hash) AS nth
  FROM (
    SELECT c.dt, c.project, CASE WHEN s.side = 3 THEN 'alias' ELSE 'anon' END AS kind,
      CASE s.side WHEN 1 THEN c.anonymous_hash WHEN 2 THEN c.previous_anonymous_hash ELSE c.previous_user_hash END AS from_hash,
      c.user_hash AS to_hash, c.event_time, c.received_at,
      -- An anonymous id keeps its earliest user of the day; an alias keeps every pair once.
      CASE WHEN s.side = 3 THEN c.user_hash ELSE 0 END AS alias_to
    FROM tally.refresh_rows c
    CROSS JOIN (SELECT 1 AS side UNION ALL SELECT 2 UNION ALL SELECT 3) s
    WHERE c.user_hash IS NOT NULL AND (s.side = 1 OR c.type = 'alias')
  ) e
  WHERE from_hash IS NOT NULL AND NOT (kind = 'alias' AND from_hash = to_hash)
) f WHERE nth = 1
UNION ALL SELECT CAST(? AS DATE), '', 'none', 0, 0, CAST(NULL AS DATETIME), CAST(NULL AS DATETIME) UNION ALL SELECT CAST(? AS DATE), '', 'none', 0, 0, CAST(NULL AS DATETIME), CAST(NULL AS DATETIME);
-- values: ["2026-03-29","2026-03-30"]

SELECT DISTINCT project FROM tally.links WHERE dt IN (?, ?) AND project <> '';
-- values: ["2026-03-29","2026-03-30"]

INSERT /*+set_var(dynamic_overwrite = true)*/ OVERWRITE tally.daily_users (dt, project, users)
SELECT d.dt, d.project, bitmap_union(to_bitmap(coalesce(p.person, d.id_hash)))
FROM tally.day_ids d
LEFT JOIN tally.people p ON p.project = d.project AND p.id_hash = d.id_hash
WHERE d.dt IN (?, ?) AND d.project <> ''
GROUP BY d.dt, d.project
UNION ALL SELECT CAST(? AS DATE), '', bitmap_empty() UNION ALL SELECT CAST(? AS DATE), '', bitmap_empty();
-- values: ["2026-03-29","2026-03-30","2026-03-29","2026-03-30"]

SELECT DISTINCT project, CAST(dt AS VARCHAR) AS dt FROM tally.day_ids
WHERE dt IN (?, ?) AND project <> '';
-- values: ["2026-03-29","2026-03-30"]

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
