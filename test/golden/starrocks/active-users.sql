SELECT CAST(dt AS VARCHAR) AS dt, dau, wau, mau FROM tally.active_users
WHERE project = ? AND dt BETWEEN ? AND ? AND dt < ?
ORDER BY dt;
-- values: ["shop","2026-03-29","2026-03-31","2026-03-31"]

SELECT bitmap_union_count(users) AS n FROM (
  SELECT users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ?
  UNION ALL
  SELECT bitmap_union(to_bitmap(coalesce(user_hash, anonymous_hash))) AS users
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
) x;
-- values: ["shop","2026-03-31","2026-03-30","shop","2026-03-31"]

SELECT bitmap_union_count(users) AS n FROM (
  SELECT users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ?
  UNION ALL
  SELECT bitmap_union(to_bitmap(coalesce(user_hash, anonymous_hash))) AS users
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
) x;
-- values: ["shop","2026-03-25","2026-03-30","shop","2026-03-31"]

SELECT bitmap_union_count(users) AS n FROM (
  SELECT users FROM tally.daily_users WHERE project = ? AND dt BETWEEN ? AND ?
  UNION ALL
  SELECT bitmap_union(to_bitmap(coalesce(user_hash, anonymous_hash))) AS users
    FROM lake.tally_lake.events WHERE project = ? AND dt = ? AND coalesce(user_hash, anonymous_hash) IS NOT NULL
) x;
-- values: ["shop","2026-03-02","2026-03-30","shop","2026-03-31"]
