REFRESH EXTERNAL TABLE lake.tally_lake.events PARTITION ('project=blog/dt=2026-03-30', 'project=shop/dt=2026-03-29');
-- values: []

INSERT OVERWRITE tally.daily_users (dt, project, users)
SELECT CAST(dt AS DATE), project, bitmap_union(to_bitmap(coalesce(user_hash, anonymous_hash)))
FROM lake.tally_lake.events
WHERE dt IN (?, ?)
  AND coalesce(user_hash, anonymous_hash) IS NOT NULL
GROUP BY dt, project;
-- values: ["2026-03-30","2026-03-29"]

INSERT INTO tally.active_users (dt, project, dau, wau, mau, computed_at)
SELECT m.dt, ?, coalesce(d.n, 0), coalesce(w.n, 0), m.n, now()
FROM (SELECT c.dt, bitmap_union_count(u.users) AS n
  FROM (SELECT CAST(? AS DATE) AS dt UNION ALL SELECT CAST(? AS DATE) AS dt) c
  JOIN tally.daily_users u
    ON u.project = ? AND u.dt BETWEEN date_sub(c.dt, INTERVAL 29 DAY) AND c.dt
  GROUP BY c.dt) m
LEFT JOIN (SELECT c.dt, bitmap_union_count(u.users) AS n
  FROM (SELECT CAST(? AS DATE) AS dt UNION ALL SELECT CAST(? AS DATE) AS dt) c
  JOIN tally.daily_users u
    ON u.project = ? AND u.dt BETWEEN date_sub(c.dt, INTERVAL 6 DAY) AND c.dt
  GROUP BY c.dt) w ON w.dt = m.dt
LEFT JOIN (SELECT c.dt, bitmap_union_count(u.users) AS n
  FROM (SELECT CAST(? AS DATE) AS dt UNION ALL SELECT CAST(? AS DATE) AS dt) c
  JOIN tally.daily_users u
    ON u.project = ? AND u.dt BETWEEN date_sub(c.dt, INTERVAL 0 DAY) AND c.dt
  GROUP BY c.dt) d ON d.dt = m.dt;
-- values: ["blog","2026-03-30","2026-03-31","blog","2026-03-30","2026-03-31","blog","2026-03-30","2026-03-31","blog"]

INSERT INTO tally.active_users (dt, project, dau, wau, mau, computed_at)
SELECT m.dt, ?, coalesce(d.n, 0), coalesce(w.n, 0), m.n, now()
FROM (SELECT c.dt, bitmap_union_count(u.users) AS n
  FROM (SELECT CAST(? AS DATE) AS dt UNION ALL SELECT CAST(? AS DATE) AS dt UNION ALL SELECT CAST(? AS DATE) AS dt) c
  JOIN tally.daily_users u
    ON u.project = ? AND u.dt BETWEEN date_sub(c.dt, INTERVAL 29 DAY) AND c.dt
  GROUP BY c.dt) m
LEFT JOIN (SELECT c.dt, bitmap_union_count(u.users) AS n
  FROM (SELECT CAST(? AS DATE) AS dt UNION ALL SELECT CAST(? AS DATE) AS dt UNION ALL SELECT CAST(? AS DATE) AS dt) c
  JOIN tally.daily_users u
    ON u.project = ? AND u.dt BETWEEN date_sub(c.dt, INTERVAL 6 DAY) AND c.dt
  GROUP BY c.dt) w ON w.dt = m.dt
LEFT JOIN (SELECT c.dt, bitmap_union_count(u.users) AS n
  FROM (SELECT CAST(? AS DATE) AS dt UNION ALL SELECT CAST(? AS DATE) AS dt UNION ALL SELECT CAST(? AS DATE) AS dt) c
  JOIN tally.daily_users u
    ON u.project = ? AND u.dt BETWEEN date_sub(c.dt, INTERVAL 0 DAY) AND c.dt
  GROUP BY c.dt) d ON d.dt = m.dt;
-- values: ["shop","2026-03-29","2026-03-30","2026-03-31","shop","2026-03-29","2026-03-30","2026-03-31","shop","2026-03-29","2026-03-30","2026-03-31","shop"]
