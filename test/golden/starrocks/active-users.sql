SELECT CAST(dt AS VARCHAR) AS dt, dau, wau, mau FROM tally.active_users
WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
ORDER BY dt;
-- values: ["shop","2026-03-29","2026-03-31","2026-03-31"]

SELECT CAST(x.dt AS VARCHAR) AS dt, x.dau, x.wau, x.mau FROM (
SELECT c.dt AS dt, ? AS project, coalesce(d.n, 0) AS dau, coalesce(w.n, 0) AS wau,
  coalesce(m.n, 0) AS mau, now() AS computed_at
FROM (SELECT CAST(? AS DATE) AS dt) c
LEFT JOIN (SELECT c.dt, bitmap_union_count(u.users) AS n
  FROM (SELECT CAST(? AS DATE) AS dt) c
  JOIN tally.daily_users u
    ON u.project = ? AND u.dt BETWEEN ? AND ? AND u.dt BETWEEN date_sub(c.dt, INTERVAL 29 DAY) AND c.dt
  GROUP BY c.dt) m ON m.dt = c.dt
LEFT JOIN (SELECT c.dt, bitmap_union_count(u.users) AS n
  FROM (SELECT CAST(? AS DATE) AS dt) c
  JOIN tally.daily_users u
    ON u.project = ? AND u.dt BETWEEN ? AND ? AND u.dt BETWEEN date_sub(c.dt, INTERVAL 6 DAY) AND c.dt
  GROUP BY c.dt) w ON w.dt = c.dt
LEFT JOIN (SELECT c.dt, bitmap_union_count(u.users) AS n
  FROM (SELECT CAST(? AS DATE) AS dt) c
  JOIN tally.daily_users u
    ON u.project = ? AND u.dt BETWEEN ? AND ? AND u.dt BETWEEN date_sub(c.dt, INTERVAL 0 DAY) AND c.dt
  GROUP BY c.dt) d ON d.dt = c.dt
) x;
-- values: ["shop","2026-03-29","2026-03-29","shop","2026-02-28","2026-03-29","2026-03-29","shop","2026-02-28","2026-03-29","2026-03-29","shop","2026-02-28","2026-03-29"]

REFRESH EXTERNAL TABLE lake.tally_lake.events PARTITION ('project=shop/dt=2026-03-31');
-- values: []

SELECT bitmap_union_count(users) AS n FROM (
  SELECT users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ?
  UNION ALL
  SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
) x;
-- values: ["shop","2026-03-31","2026-03-30","shop","2026-03-31","shop"]

SELECT bitmap_union_count(users) AS n FROM (
  SELECT users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ?
  UNION ALL
  SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
) x;
-- values: ["shop","2026-03-25","2026-03-30","shop","2026-03-31","shop"]

SELECT bitmap_union_count(users) AS n FROM (
  SELECT users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ?
  UNION ALL
  SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
) x;
-- values: ["shop","2026-03-02","2026-03-30","shop","2026-03-31","shop"]
