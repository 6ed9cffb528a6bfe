import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../lib/log.js';
import type { PutEntry } from '../lib/stream/producer.js';
import type { Journal } from './journal.js';

interface PersistedRecord {
  Data?: string;
  PartitionKey?: string;
  SequenceNumber?: string;
}

/**
 * Data dirs of earlier versions kept the stream in kinesis-local's own file
 * (`kinesis/kinesis-data.json`). On the first start with the journal, the records of that file
 * not yet checkpointed are moved into the journal (so they reach the lake), and the file is
 * renamed out of the way. A file kinesis-local could not load (cut short by a crash) is renamed
 * `.damaged` and reported: what it held was, at worst, acknowledged and never saved.
 */
export async function importLegacyStream(
  dataDir: string,
  streamName: string,
  journal: Journal,
  logger: Logger,
): Promise<number> {
  const path = join(dataDir, 'kinesis', 'kinesis-data.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  let state: {
    streams?: Record<string, { streamName?: string; shards?: Record<string, PersistedRecord[]> }>;
  };
  try {
    state = JSON.parse(text);
  } catch {
    await rename(path, `${path}.damaged`);
    logger.warn('the old kinesis-local file was damaged and is set aside', {
      file: `${path}.damaged`,
      bytes: text.length,
    });
    return 0;
  }
  const checkpoints = await readFile(join(dataDir, 'checkpoints', `${streamName}.json`), 'utf8')
    .then((t) => JSON.parse(t) as Record<string, string>)
    .catch(() => ({}) as Record<string, string>);
  const entries: PutEntry[] = [];
  for (const stream of Object.values(state.streams ?? {})) {
    if (stream.streamName !== streamName) continue;
    for (const [shardKey, records] of Object.entries(stream.shards ?? {})) {
      let shardId = '';
      try {
        shardId = String((JSON.parse(shardKey) as { ShardId?: string }).ShardId ?? '');
      } catch {}
      const done = checkpoints[shardId];
      for (const r of records) {
        if (typeof r.Data !== 'string' || typeof r.PartitionKey !== 'string') continue;
        if (done && r.SequenceNumber && BigInt(r.SequenceNumber) <= BigInt(done)) continue;
        entries.push({ data: Buffer.from(r.Data, 'base64'), partitionKey: r.PartitionKey });
      }
    }
  }
  await journal.appendUnsent(entries);
  await rename(path, `${path}.imported`);
  logger.info('moved the old kinesis-local file into the journal', { records: entries.length });
  return entries.length;
}
