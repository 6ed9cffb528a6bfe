import { manifestHourPrefix } from '../lake/keys.js';
import { decodeManifest } from '../lake/manifest.js';
import type { ObjectStore } from '../lake/store.js';

/** How the pipeline is doing for one project, from the lake's manifests. */
export interface PipelineHealth {
  /** Events that reached the lake, per minute of their batch's arrival, oldest first (the last `minutes`). */
  eventsPerMinute: Array<{ minute: string; events: number }>;
  /** This project's refused events of the same period, by reason. */
  rejected: Record<string, number>;
  /** When the newest batch of any project arrived, and how long ago: the lake's lag behind the stream. */
  lake: { lastBatchAt: string | null; lagSeconds: number | null };
}

/** What the health view needs of one manifest. */
interface Summary {
  arrivedMs: number;
  /** Rows written, by project. */
  events: Record<string, number>;
  /** Bad rows, by project and reason. */
  rejected: Record<string, Record<string, number>>;
}

/** @default the last 60 minutes */
export const DEFAULT_HEALTH_MINUTES = 60;
const MINUTE_MS = 60_000;
const CACHE_LIMIT = 50_000;

export type ManifestCache = Map<string, Summary>;

/**
 * Reads pipeline health from the manifests of the last hour(s). Manifests never change once
 * written (a retried batch writes the same one), so each is read once and kept in `cache`.
 */
export async function pipelineHealth(
  store: ObjectStore,
  project: string,
  now: Date,
  cache: ManifestCache = new Map(),
  minutes = DEFAULT_HEALTH_MINUTES,
): Promise<PipelineHealth> {
  const since = now.getTime() - minutes * MINUTE_MS;
  const hours = new Set<string>();
  for (let t = since - (since % 3_600_000); t <= now.getTime(); t += 3_600_000) {
    hours.add(manifestHourPrefix(t));
  }
  const summaries: Summary[] = [];
  for (const prefix of hours) {
    for (const key of await store.list(prefix)) {
      let summary = cache.get(key);
      if (summary === undefined) {
        const bytes = await store.get(key);
        if (bytes === null) continue;
        const m = decodeManifest(bytes);
        const events: Record<string, number> = {};
        for (const f of m.files) events[f.project] = (events[f.project] ?? 0) + f.rows;
        summary = { arrivedMs: Date.parse(m.arrivedAt), events, rejected: m.badByProject ?? {} };
        if (cache.size > CACHE_LIMIT) cache.clear();
        cache.set(key, summary);
      }
      summaries.push(summary);
    }
  }
  const firstMinute = Math.floor(since / MINUTE_MS) + 1;
  const perMinute = new Map<number, number>();
  const rejected: Record<string, number> = {};
  let last: number | null = null;
  for (const s of summaries) {
    last = last === null ? s.arrivedMs : Math.max(last, s.arrivedMs);
    if (s.arrivedMs < since) continue;
    const minute = Math.floor(s.arrivedMs / MINUTE_MS);
    perMinute.set(minute, (perMinute.get(minute) ?? 0) + (s.events[project] ?? 0));
    for (const [reason, n] of Object.entries(s.rejected[project] ?? {}))
      rejected[reason] = (rejected[reason] ?? 0) + n;
  }
  const lastMinute = Math.floor(now.getTime() / MINUTE_MS);
  const eventsPerMinute = [];
  for (let m = firstMinute; m <= lastMinute; m++) {
    eventsPerMinute.push({
      minute: new Date(m * MINUTE_MS).toISOString().slice(0, 16),
      events: perMinute.get(m) ?? 0,
    });
  }
  return {
    eventsPerMinute,
    rejected,
    lake: {
      lastBatchAt: last === null ? null : new Date(last).toISOString(),
      lagSeconds: last === null ? null : Math.max(0, Math.round((now.getTime() - last) / 1000)),
    },
  };
}
