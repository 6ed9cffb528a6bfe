REFRESH EXTERNAL TABLE lake.tally_lake.events PARTITION ('project=shop/dt=2026-03-31');
-- values: []

SELECT a.value, coalesce(b.mau, 0) AS mau FROM (SELECT DISTINCT value FROM (SELECT dt, value, users FROM tally.daily_values
  WHERE project = ? AND dim = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, value, users FROM (SELECT x.value, bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT coalesce(platform, '') AS value, md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL
  GROUP BY x.value) l) r) a
LEFT JOIN (
  SELECT value, bitmap_union_count(users) AS mau FROM (SELECT dt, value, users FROM tally.daily_values
  WHERE project = ? AND dim = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, value, users FROM (SELECT x.value, bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT coalesce(platform, '') AS value, md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL
  GROUP BY x.value) l) r WHERE dt >= ? GROUP BY value
) b ON b.value = a.value;
-- values: ["shop","platform","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","platform","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","2026-03-02"]

SELECT 1 AS n, CAST(c.dt AS VARCHAR) AS dt, r.v, bitmap_union_count(r.users) AS persons
  FROM (SELECT CAST(? AS DATE) AS dt) c
  JOIN (SELECT dt, CASE WHEN value IN (?, ?) THEN value END AS v, users FROM (SELECT dt, value, users FROM tally.daily_values
  WHERE project = ? AND dim = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, value, users FROM (SELECT x.value, bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT coalesce(platform, '') AS value, md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL
  GROUP BY x.value) l) x) r
    ON r.dt BETWEEN date_sub(c.dt, INTERVAL 0 DAY) AND c.dt
  GROUP BY c.dt, r.v
UNION ALL
SELECT 7 AS n, CAST(c.dt AS VARCHAR) AS dt, r.v, bitmap_union_count(r.users) AS persons
  FROM (SELECT CAST(? AS DATE) AS dt) c
  JOIN (SELECT dt, CASE WHEN value IN (?, ?) THEN value END AS v, users FROM (SELECT dt, value, users FROM tally.daily_values
  WHERE project = ? AND dim = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, value, users FROM (SELECT x.value, bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT coalesce(platform, '') AS value, md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL
  GROUP BY x.value) l) x) r
    ON r.dt BETWEEN date_sub(c.dt, INTERVAL 6 DAY) AND c.dt
  GROUP BY c.dt, r.v
UNION ALL
SELECT 30 AS n, CAST(c.dt AS VARCHAR) AS dt, r.v, bitmap_union_count(r.users) AS persons
  FROM (SELECT CAST(? AS DATE) AS dt) c
  JOIN (SELECT dt, CASE WHEN value IN (?, ?) THEN value END AS v, users FROM (SELECT dt, value, users FROM tally.daily_values
  WHERE project = ? AND dim = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, value, users FROM (SELECT x.value, bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT coalesce(platform, '') AS value, md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL
  GROUP BY x.value) l) x) r
    ON r.dt BETWEEN date_sub(c.dt, INTERVAL 29 DAY) AND c.dt
  GROUP BY c.dt, r.v;
-- values: ["2026-03-31","web","","shop","platform","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","2026-03-31","web","","shop","platform","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","2026-03-31","web","","shop","platform","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop"]

REFRESH EXTERNAL TABLE lake.tally_lake.events PARTITION ('project=shop/dt=2026-03-31');
-- values: []

SELECT a.value, coalesce(b.mau, 0) AS mau FROM (SELECT DISTINCT value FROM (SELECT dt, value, users FROM (
    SELECT u.dt, 'new' AS value, bitmap_andnot(u.users, p.prior) AS users
    FROM (SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l) u JOIN (SELECT d.dt, bitmap_union(e.users) AS prior FROM (SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l) d
  JOIN (
    SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l
    UNION ALL SELECT CAST('0000-01-01' AS DATE) AS dt, bitmap_union(users) AS users FROM tally.daily_users
    WHERE project = ? AND dt < ?
    UNION ALL SELECT CAST('0000-01-01' AS DATE) AS dt, bitmap_empty() AS users
  ) e ON e.dt < d.dt
  GROUP BY d.dt) p ON p.dt = u.dt
  ) k WHERE bitmap_count(users) > 0
UNION ALL SELECT dt, value, users FROM (
    SELECT u.dt, 'returning' AS value, bitmap_and(u.users, p.prior) AS users
    FROM (SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l) u JOIN (SELECT d.dt, bitmap_union(e.users) AS prior FROM (SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l) d
  JOIN (
    SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l
    UNION ALL SELECT CAST('0000-01-01' AS DATE) AS dt, bitmap_union(users) AS users FROM tally.daily_users
    WHERE project = ? AND dt < ?
    UNION ALL SELECT CAST('0000-01-01' AS DATE) AS dt, bitmap_empty() AS users
  ) e ON e.dt < d.dt
  GROUP BY d.dt) p ON p.dt = u.dt
  ) k WHERE bitmap_count(users) > 0) r) a
LEFT JOIN (
  SELECT value, bitmap_union_count(users) AS mau FROM (SELECT dt, value, users FROM (
    SELECT u.dt, 'new' AS value, bitmap_andnot(u.users, p.prior) AS users
    FROM (SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l) u JOIN (SELECT d.dt, bitmap_union(e.users) AS prior FROM (SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l) d
  JOIN (
    SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l
    UNION ALL SELECT CAST('0000-01-01' AS DATE) AS dt, bitmap_union(users) AS users FROM tally.daily_users
    WHERE project = ? AND dt < ?
    UNION ALL SELECT CAST('0000-01-01' AS DATE) AS dt, bitmap_empty() AS users
  ) e ON e.dt < d.dt
  GROUP BY d.dt) p ON p.dt = u.dt
  ) k WHERE bitmap_count(users) > 0
UNION ALL SELECT dt, value, users FROM (
    SELECT u.dt, 'returning' AS value, bitmap_and(u.users, p.prior) AS users
    FROM (SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l) u JOIN (SELECT d.dt, bitmap_union(e.users) AS prior FROM (SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l) d
  JOIN (
    SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l
    UNION ALL SELECT CAST('0000-01-01' AS DATE) AS dt, bitmap_union(users) AS users FROM tally.daily_users
    WHERE project = ? AND dt < ?
    UNION ALL SELECT CAST('0000-01-01' AS DATE) AS dt, bitmap_empty() AS users
  ) e ON e.dt < d.dt
  GROUP BY d.dt) p ON p.dt = u.dt
  ) k WHERE bitmap_count(users) > 0) r WHERE dt >= ? GROUP BY value
) b ON b.value = a.value;
-- values: ["shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-02"]

SELECT 1 AS n, CAST(c.dt AS VARCHAR) AS dt, r.v, bitmap_union_count(r.users) AS persons
  FROM (SELECT CAST(? AS DATE) AS dt) c
  JOIN (SELECT dt, CASE WHEN value IN (?, ?, ?) THEN value END AS v, users FROM (SELECT dt, value, users FROM (
    SELECT u.dt, 'new' AS value, bitmap_andnot(u.users, p.prior) AS users
    FROM (SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l) u JOIN (SELECT d.dt, bitmap_union(e.users) AS prior FROM (SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l) d
  JOIN (
    SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l
    UNION ALL SELECT CAST('0000-01-01' AS DATE) AS dt, bitmap_union(users) AS users FROM tally.daily_users
    WHERE project = ? AND dt < ?
    UNION ALL SELECT CAST('0000-01-01' AS DATE) AS dt, bitmap_empty() AS users
  ) e ON e.dt < d.dt
  GROUP BY d.dt) p ON p.dt = u.dt
  ) k WHERE bitmap_count(users) > 0
UNION ALL SELECT dt, value, users FROM (
    SELECT u.dt, 'returning' AS value, bitmap_and(u.users, p.prior) AS users
    FROM (SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l) u JOIN (SELECT d.dt, bitmap_union(e.users) AS prior FROM (SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l) d
  JOIN (
    SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l
    UNION ALL SELECT CAST('0000-01-01' AS DATE) AS dt, bitmap_union(users) AS users FROM tally.daily_users
    WHERE project = ? AND dt < ?
    UNION ALL SELECT CAST('0000-01-01' AS DATE) AS dt, bitmap_empty() AS users
  ) e ON e.dt < d.dt
  GROUP BY d.dt) p ON p.dt = u.dt
  ) k WHERE bitmap_count(users) > 0) x) r
    ON r.dt BETWEEN date_sub(c.dt, INTERVAL 0 DAY) AND c.dt
  GROUP BY c.dt, r.v
UNION ALL
SELECT 7 AS n, CAST(c.dt AS VARCHAR) AS dt, r.v, bitmap_union_count(r.users) AS persons
  FROM (SELECT CAST(? AS DATE) AS dt) c
  JOIN (SELECT dt, CASE WHEN value IN (?, ?, ?) THEN value END AS v, users FROM (SELECT dt, value, users FROM (
    SELECT u.dt, 'new' AS value, bitmap_andnot(u.users, p.prior) AS users
    FROM (SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l) u JOIN (SELECT d.dt, bitmap_union(e.users) AS prior FROM (SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l) d
  JOIN (
    SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l
    UNION ALL SELECT CAST('0000-01-01' AS DATE) AS dt, bitmap_union(users) AS users FROM tally.daily_users
    WHERE project = ? AND dt < ?
    UNION ALL SELECT CAST('0000-01-01' AS DATE) AS dt, bitmap_empty() AS users
  ) e ON e.dt < d.dt
  GROUP BY d.dt) p ON p.dt = u.dt
  ) k WHERE bitmap_count(users) > 0
UNION ALL SELECT dt, value, users FROM (
    SELECT u.dt, 'returning' AS value, bitmap_and(u.users, p.prior) AS users
    FROM (SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l) u JOIN (SELECT d.dt, bitmap_union(e.users) AS prior FROM (SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l) d
  JOIN (
    SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l
    UNION ALL SELECT CAST('0000-01-01' AS DATE) AS dt, bitmap_union(users) AS users FROM tally.daily_users
    WHERE project = ? AND dt < ?
    UNION ALL SELECT CAST('0000-01-01' AS DATE) AS dt, bitmap_empty() AS users
  ) e ON e.dt < d.dt
  GROUP BY d.dt) p ON p.dt = u.dt
  ) k WHERE bitmap_count(users) > 0) x) r
    ON r.dt BETWEEN date_sub(c.dt, INTERVAL 6 DAY) AND c.dt
  GROUP BY c.dt, r.v
UNION ALL
SELECT 30 AS n, CAST(c.dt AS VARCHAR) AS dt, r.v, bitmap_union_count(r.users) AS persons
  FROM (SELECT CAST(? AS DATE) AS dt) c
  JOIN (SELECT dt, CASE WHEN value IN (?, ?, ?) THEN value END AS v, users FROM (SELECT dt, value, users FROM (
    SELECT u.dt, 'new' AS value, bitmap_andnot(u.users, p.prior) AS users
    FROM (SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l) u JOIN (SELECT d.dt, bitmap_union(e.users) AS prior FROM (SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l) d
  JOIN (
    SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l
    UNION ALL SELECT CAST('0000-01-01' AS DATE) AS dt, bitmap_union(users) AS users FROM tally.daily_users
    WHERE project = ? AND dt < ?
    UNION ALL SELECT CAST('0000-01-01' AS DATE) AS dt, bitmap_empty() AS users
  ) e ON e.dt < d.dt
  GROUP BY d.dt) p ON p.dt = u.dt
  ) k WHERE bitmap_count(users) > 0
UNION ALL SELECT dt, value, users FROM (
    SELECT u.dt, 'returning' AS value, bitmap_and(u.users, p.prior) AS users
    FROM (SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l) u JOIN (SELECT d.dt, bitmap_union(e.users) AS prior FROM (SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l) d
  JOIN (
    SELECT dt, users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
  UNION ALL SELECT CAST(? AS DATE) AS dt, users FROM (SELECT bitmap_union(to_bitmap(coalesce(p.person, x.id))) AS users FROM (
    SELECT md5sum_numeric(event_id) AS digest, received_at, coalesce(user_hash, anonymous_hash) AS id
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
      AND NOT coalesce(bot, false)
  ) x
  LEFT JOIN (SELECT digest, received_at FROM tally.event_index WHERE received_day >= ? AND project = ? AND dt <> ?) i
    ON i.digest = x.digest AND i.received_at <= x.received_at
    AND i.received_at >= x.received_at - INTERVAL 24 HOUR
  LEFT JOIN (SELECT id_hash, person FROM tally.people WHERE project = ?) p ON p.id_hash = x.id
  WHERE i.digest IS NULL) l
    UNION ALL SELECT CAST('0000-01-01' AS DATE) AS dt, bitmap_union(users) AS users FROM tally.daily_users
    WHERE project = ? AND dt < ?
    UNION ALL SELECT CAST('0000-01-01' AS DATE) AS dt, bitmap_empty() AS users
  ) e ON e.dt < d.dt
  GROUP BY d.dt) p ON p.dt = u.dt
  ) k WHERE bitmap_count(users) > 0) x) r
    ON r.dt BETWEEN date_sub(c.dt, INTERVAL 29 DAY) AND c.dt
  GROUP BY c.dt, r.v;
-- values: ["2026-03-31","web","","ios","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","web","","ios","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","web","","ios","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02","2026-03-31","2026-03-31","2026-03-31","shop","2026-03-31","2026-03-29","shop","2026-03-31","shop","shop","2026-03-02"]
