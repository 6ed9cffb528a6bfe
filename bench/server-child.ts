/**
 * The collector container's server for `BENCH_ONLY=server`, in a process of its own so that its
 * CPU time is its own: over a stream that answers at once, or kinesis-local when
 * `BENCH_KINESIS_ENDPOINT` is set. It tells its parent its URL, then, when asked, its CPU time,
 * memory and PutRecords calls.
 */
import { startCollectorServer } from '../container/server.js';
import { kinesisClient } from '../lambdas/aws.js';
import { hashKey, KeyRing } from '../lib/ingest/auth.js';
import { silentLogger } from '../lib/log.js';
import { CoalescingWriter, PUT_PAYLOAD_UNIT_BYTES } from '../lib/stream/coalesce.js';
import { KinesisStreamWriter } from '../lib/stream/kinesis.js';
import type { StreamWriter } from '../lib/stream/producer.js';

export const BENCH_WRITE_KEY = 'bench-write-key';

async function main(): Promise<void> {
  const endpoint = process.env.BENCH_KINESIS_ENDPOINT;
  const stream: StreamWriter = endpoint
    ? new KinesisStreamWriter(kinesisClient(endpoint), { streamName: process.env.BENCH_STREAM ?? 'bench' })
    : { putRecords: async (entries) => entries.map(() => ({ shardId: 's', sequenceNumber: '1' })) };
  const writer = new CoalescingWriter(stream, { bundleBytes: PUT_PAYLOAD_UNIT_BYTES });
  const server = await startCollectorServer(
    {
      writeKeys: new KeyRing([{ project: 'shop', sha256: hashKey(BENCH_WRITE_KEY) }]),
      hashKey: { version: 1, secret: Buffer.alloc(32, 1) },
      stream: writer,
    },
    silentLogger,
    { port: 0, host: '127.0.0.1' },
  );
  let cpuAtStart = process.cpuUsage();
  process.on('message', (message: string) => {
    if (message === 'start') {
      cpuAtStart = process.cpuUsage();
      writer.sent.calls = 0;
      writer.sent.records = 0;
      writer.sent.entries = 0;
      process.send?.('started');
    }
    if (message === 'report') {
      const cpu = process.cpuUsage(cpuAtStart);
      process.send?.({
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        rssMb: process.memoryUsage().rss / 2 ** 20,
        putRecordsCalls: writer.sent.calls,
        records: writer.sent.records,
        entries: writer.sent.entries,
      });
    }
    if (message === 'stop') void server.drain(1000).then(() => process.exit(0));
  });
  process.send?.({ url: server.url });
}

void main();
