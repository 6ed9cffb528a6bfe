import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { decodeRecord } from '../../lib/stream/codec.js';
import { ensureTopic, KafkaStreamReader } from '../../lib/stream/kafka.js';
import type { KafkaConnection } from '../../lib/stream/kafka-connection.js';
import { type KafkaBroker, kafkaMissing, startKafkaBroker } from '../../local/kafka-broker.js';

/**
 * A Kafka broker of the test file's own with one topic, started before its tests and stopped after:
 * the getter answers it, or null where there is no broker here (CI requires one:
 * `TALLY_REQUIRE_KAFKA`, so a missing one fails there instead of skipping).
 */
export function useKafkaBroker(topic: string, partitions = 2): () => KafkaBroker | null {
  let broker: KafkaBroker | null = null;
  const dir = mkdtempSync(join(tmpdir(), 'tally-test-kafka-'));
  beforeAll(async () => {
    const missing = kafkaMissing();
    if (missing) {
      if (process.env.TALLY_REQUIRE_KAFKA) throw new Error(`a Kafka broker is required here: ${missing}`);
      return;
    }
    broker = await startKafkaBroker({ dataDir: dir });
    await ensureTopic(broker.brokers, topic, { partitions, retentionHours: 1 });
  }, 120_000);
  afterAll(async () => {
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return () => broker;
}

/** The ids of every event on a topic, each partition read from its oldest record. */
export async function eventIdsOnTopic(
  connection: KafkaConnection | readonly string[],
  topic: string,
): Promise<string[]> {
  const reader = new KafkaStreamReader(connection, topic);
  const ids: string[] = [];
  try {
    for (const shard of await reader.listShards()) {
      const { records } = await reader.read(await reader.iterator(shard, null), 10_000);
      for (const r of records)
        for (const item of decodeRecord(r.data).items)
          if (item.kind === 'event') ids.push(item.event.eventId);
    }
  } finally {
    await reader.close();
  }
  return ids;
}
