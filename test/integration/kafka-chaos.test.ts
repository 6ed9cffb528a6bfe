import { describe, expect, it } from 'vitest';
import { formatReport, KILL_KINDS, runChaos, violations } from '../../local/chaos/run.js';
import { kafkaMissing } from '../../local/kafka-broker.js';

// Apart from crash-safety.test.ts (the same run on Kinesis), so the two long runs can go side by side.
describe('crash safety on one machine, on Kafka', () => {
  it('a short chaos run on Kafka (npm start with its own broker, 6,000 events): the five kinds of kill, the broker among them, faults inside; nothing lost, nothing doubled, exact counts', async (ctx) => {
    const missing = kafkaMissing();
    if (missing) {
      if (process.env.TALLY_REQUIRE_KAFKA) throw new Error(`a Kafka broker is required here: ${missing}`);
      return ctx.skip();
    }
    const report = await runChaos({
      stream: 'kafka',
      events: 6_000,
      users: 300,
      days: 35,
      batch: 20,
      concurrency: 8,
      killEveryMs: 0,
      kills: KILL_KINDS.length,
      badEvery: 499,
      rates: {
        // The collector's put faults are the Kinesis run's (crash-safety.test.ts); fewer here, where
        // what differs is the stream behind the poller.
        putPartial: 0.02,
        putThrottle: 0.01,
        putLostAnswer: 0.01,
        storeError: 0.002,
        crashBeforeManifest: 0.2,
        redeliver: 0.2,
        superset: 0.1,
        rollupKill: 0.02,
        compactionKill: 0.03,
        compactEveryMs: 1_500,
        maxSelfKills: 3,
        // A Kafka fetch brings every record waiting: small batches, so the lake writer's faults get their chances.
        lakeBatchSize: 10,
      },
    });
    console.log(formatReport(report));
    expect(violations(report)).toEqual([]);
    expect(report.lake.distinctIds).toBe(report.validEvents);
    // Killed between writing a batch's files and its manifest (so before its offsets' checkpoint).
    expect(report.faults['crash-before-manifest'] ?? 0).toBeGreaterThan(0);
    expect(report.faults.redeliver ?? 0).toBeGreaterThan(0);
    for (const kind of KILL_KINDS) {
      expect(report.faults[`kill-${kind}`] ?? 0).toBeGreaterThan(0);
    }
  }, 240_000);
});
