REFRESH EXTERNAL TABLE lake.tally_lake.events PARTITION ('project=shop/dt=2026-03-31');
-- values: []

WITH live AS (SELECT x.value, bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT coalesce(platform, '') AS value, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  GROUP BY x.value),
r AS (
  SELECT dt, value, users FROM tally.daily_values WHERE project = ? AND dim = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, value, users FROM live
),
c AS (SELECT CAST(? AS DATE) AS dt),
ranks AS (
  SELECT a.value, coalesce(b.mau, 0) AS mau FROM (SELECT DISTINCT value FROM r) a
  LEFT JOIN (SELECT value, bitmap_union_count(users) AS mau FROM r WHERE dt >= ? GROUP BY value) b ON b.value = a.value
),
top AS (SELECT value FROM ranks ORDER BY mau DESC, value LIMIT 2),
t AS (SELECT r.dt, top.value AS v, r.users FROM r LEFT JOIN top ON top.value = r.value)
SELECT 0 AS n, NULL AS dt, value AS v, mau AS persons FROM ranks
UNION ALL
SELECT 1 AS n, CAST(c.dt AS VARCHAR) AS dt, t.v, bitmap_union_count(t.users) AS persons
FROM c JOIN t ON t.dt BETWEEN date_sub(c.dt, INTERVAL 0 DAY) AND c.dt
GROUP BY c.dt, t.v
UNION ALL
SELECT 7 AS n, CAST(c.dt AS VARCHAR) AS dt, t.v, bitmap_union_count(t.users) AS persons
FROM c JOIN t ON t.dt BETWEEN date_sub(c.dt, INTERVAL 6 DAY) AND c.dt
GROUP BY c.dt, t.v
UNION ALL
SELECT 30 AS n, CAST(c.dt AS VARCHAR) AS dt, t.v, bitmap_union_count(t.users) AS persons
FROM c JOIN t ON t.dt BETWEEN date_sub(c.dt, INTERVAL 29 DAY) AND c.dt
GROUP BY c.dt, t.v;
-- values: ["shop","2026-03-31","shop","shop","platform","2026-03-02","2026-03-31","2026-03-31","2026-03-31","2026-03-31","2026-03-02"]

REFRESH EXTERNAL TABLE lake.tally_lake.events PARTITION ('project=shop/dt=2026-03-31');
-- values: []

WITH live AS (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id),
before AS (
  SELECT bitmap_union(users) AS users FROM (
    SELECT users FROM tally.first_days WHERE project = ? AND dt < ?
    UNION ALL SELECT bitmap_empty() AS users
  ) b
),
persons AS (
  SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
),
firsts AS (
  SELECT dt, bitmap_union(users) AS users FROM (
    SELECT dt, users FROM tally.first_days WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
    UNION ALL SELECT dt, bitmap_empty() AS users FROM persons
  ) f GROUP BY dt
),
r AS (
  SELECT dt, value, users FROM (
    SELECT dt, 'new' AS value, users FROM firsts
    UNION ALL SELECT u.dt, 'returning' AS value, bitmap_andnot(u.users, f.users) AS users
    FROM persons u JOIN firsts f ON f.dt = u.dt
    UNION ALL SELECT CAST(? AS DATE) AS dt, 'new' AS value, bitmap_andnot(l.users, b.users) AS users FROM live l, before b
    UNION ALL SELECT CAST(? AS DATE) AS dt, 'returning' AS value, bitmap_and(l.users, b.users) AS users FROM live l, before b
  ) k WHERE bitmap_count(users) > 0
),
c AS (SELECT CAST(? AS DATE) AS dt),
ranks AS (
  SELECT a.value, coalesce(b.mau, 0) AS mau FROM (SELECT DISTINCT value FROM r) a
  LEFT JOIN (SELECT value, bitmap_union_count(users) AS mau FROM r WHERE dt >= ? GROUP BY value) b ON b.value = a.value
),
top AS (SELECT value FROM ranks ORDER BY mau DESC, value LIMIT 10),
t AS (SELECT r.dt, top.value AS v, r.users FROM r LEFT JOIN top ON top.value = r.value)
SELECT 0 AS n, NULL AS dt, value AS v, mau AS persons FROM ranks
UNION ALL
SELECT 1 AS n, CAST(c.dt AS VARCHAR) AS dt, t.v, bitmap_union_count(t.users) AS persons
FROM c JOIN t ON t.dt BETWEEN date_sub(c.dt, INTERVAL 0 DAY) AND c.dt
GROUP BY c.dt, t.v
UNION ALL
SELECT 7 AS n, CAST(c.dt AS VARCHAR) AS dt, t.v, bitmap_union_count(t.users) AS persons
FROM c JOIN t ON t.dt BETWEEN date_sub(c.dt, INTERVAL 6 DAY) AND c.dt
GROUP BY c.dt, t.v
UNION ALL
SELECT 30 AS n, CAST(c.dt AS VARCHAR) AS dt, t.v, bitmap_union_count(t.users) AS persons
FROM c JOIN t ON t.dt BETWEEN date_sub(c.dt, INTERVAL 29 DAY) AND c.dt
GROUP BY c.dt, t.v;
-- values: ["shop","2026-03-31","shop","shop","2026-03-31","shop","2026-03-02","2026-03-31","2026-03-31","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","2026-03-31","2026-03-31","2026-03-02"]
