import { appendFileSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { KinesisStreamEvent } from 'aws-lambda';
import { StorageError } from '../../lib/lake/store.js';
import type { PutOutcome } from '../../lib/stream/producer.js';
import { runTally } from '../main.js';

/**
 * `npm start` with faults injected in-process, for the chaos run: the same runTally() path, with
 * the stream writer, the lake's store and the lake writer handler wrapped. Each injected fault is
 * appended to `<dataDir>/chaos-faults.log` before it happens, so the count survives the kills.
 */

export interface FaultRates {
  /** Per PutRecords call: every third entry (the first included) refused with ProvisionedThroughputExceeded. */
  putPartial: number;
  /** Per PutRecords call: the whole call throttled. */
  putThrottle: number;
  /** Per PutRecords call: the stream took the records, the answer is lost (timeout). */
  putLostAnswer: number;
  /** Per object written: the store fails (S3 500/SlowDown). */
  storeError: number;
  /** Per manifest written: the process is killed after the data files, before the manifest. */
  crashBeforeManifest: number;
  /** Per batch: delivered twice. */
  redeliver: number;
  /** Per batch: first delivered as a prefix, then whole (the retry is a superset). */
  superset: number;
  /** Per second: a rollup started and the process killed while it runs. */
  rollupKill: number;
  /** Per second: a compaction of the lake started and the process killed while it runs. */
  compactionKill: number;
  /** Compaction of the lake's closed days every this many ms, as `npm start` does hourly (0: none). */
  compactEveryMs: number;
  /**
   * At most this many kills from inside (crash before manifest, rollup kill) over the whole run:
   * a recovery re-drives and rewrites batches, each a new chance of a kill, and uncapped rates
   * can keep a slow machine recovering for ever. @default no limit
   */
  maxSelfKills: number;
  /**
   * Records per lake batch (`npm start`'s default is 1,000): smaller, the lake writer writes more
   * batches, each a chance of the faults above. @default npm start's
   */
  lakeBatchSize: number;
}

const dataDir = resolve(process.env.TALLY_DATA_DIR ?? '.tally');
const rates = JSON.parse(process.env.TALLY_CHAOS ?? '{}') as Partial<FaultRates>;
const rate = (name: keyof FaultRates) => rates[name] ?? 0;
const log = join(dataDir, 'chaos-faults.log');
const fault = (kind: string) => appendFileSync(log, `${kind}\n`);
const killSelf = () => process.kill(process.pid, 'SIGKILL');
const SELF_KILLS = /^(crash-before-manifest|rollup-kill|compaction-kill)$/gm;
const selfKillsSoFar = (() => {
  try {
    return (readFileSync(log, 'utf8').match(SELF_KILLS) ?? []).length;
  } catch {
    return 0;
  }
})();
/** Whether another kill from inside is allowed in this run. */
const mayKillSelf = () => selfKillsSoFar < (rates.maxSelfKills ?? Number.POSITIVE_INFINITY);

const pipeline = await runTally({
  compactionIntervalMs: rates.compactEveryMs ?? 0,
  ...(rates.lakeBatchSize ? { batchSize: rates.lakeBatchSize } : {}),
  wrapWriter: (inner) => ({
    async putRecords(entries): Promise<PutOutcome[]> {
      const r = Math.random();
      if (r < rate('putThrottle')) {
        fault('put-throttle');
        throw Object.assign(new Error('Rate exceeded for shard'), {
          name: 'ProvisionedThroughputExceededException',
        });
      }
      if (r < rate('putThrottle') + rate('putLostAnswer')) {
        fault('put-lost-answer');
        await inner.putRecords(entries);
        throw Object.assign(new Error('socket hang up after the records were stored'), {
          name: 'TimeoutError',
        });
      }
      if (r < rate('putThrottle') + rate('putLostAnswer') + rate('putPartial')) {
        fault('put-partial');
        const refused = entries.map((_, i) => i % 3 === 0);
        const taken = await inner.putRecords(entries.filter((_, i) => !refused[i]));
        let next = 0;
        return entries.map((_, i) =>
          refused[i] ? { errorCode: 'ProvisionedThroughputExceededException' } : taken[next++]!,
        );
      }
      return inner.putRecords(entries);
    },
  }),
  wrapStore: (inner) => ({
    list: (prefix) => inner.list(prefix),
    get: (key) => inner.get(key),
    async put(key, body, type) {
      if (Math.random() < rate('storeError')) {
        fault('store-error');
        throw new StorageError('put', key, new Error('We encountered an internal error. Please try again.'));
      }
      if (key.startsWith('manifests/') && mayKillSelf() && Math.random() < rate('crashBeforeManifest')) {
        fault('crash-before-manifest');
        killSelf();
      }
      return inner.put(key, body, type);
    },
  }),
  wrapHandler: (handler) => async (event: KinesisStreamEvent) => {
    const r = Math.random();
    if (r < rate('redeliver')) {
      fault('redeliver');
      await handler(event);
    } else if (r < rate('redeliver') + rate('superset') && event.Records.length > 1) {
      fault('superset');
      await handler({ Records: event.Records.slice(0, Math.ceil(event.Records.length / 2)) });
    }
    return handler(event);
  },
});

if (rate('compactionKill') > 0 && pipeline.warehouse && mayKillSelf()) {
  const warehouse = pipeline.warehouse;
  setInterval(() => {
    if (Math.random() >= rate('compactionKill')) return;
    fault('compaction-kill');
    void warehouse.compactNow().catch(() => {});
    setTimeout(killSelf, 20 + Math.random() * 1500);
  }, 1000).unref();
}

if (rate('rollupKill') > 0 && pipeline.warehouse && mayKillSelf()) {
  const warehouse = pipeline.warehouse;
  setInterval(() => {
    if (Math.random() >= rate('rollupKill')) return;
    fault('rollup-kill');
    void warehouse.rollupNow({ full: Math.random() < 0.5 }).catch(() => {});
    setTimeout(killSelf, 20 + Math.random() * 400);
  }, 1000).unref();
}
