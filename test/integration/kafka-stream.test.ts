import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { Admin, Consumer, type Message } from '@platformatic/kafka';
import type { CloudFormationCustomResourceEvent, MSKEvent, MSKRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CustomResourceResponse } from '../../lambdas/custom-resource.js';
import { createKafkaTopicHandler } from '../../lambdas/kafka-topic/handler.js';
import { createKafkaLakeWriterHandler, createLakeWriterHandler } from '../../lambdas/lake-writer/handler.js';
import { FsObjectStore } from '../../lib/lake/fs-store.js';
import { silentLogger } from '../../lib/log.js';
import { encodeRecords } from '../../lib/stream/codec.js';
import {
  ensureTopic,
  KafkaStreamReader,
  KafkaStreamWriter,
  onProduceThrottled,
} from '../../lib/stream/kafka.js';
import { LocalPoller } from '../../lib/stream/poller.js';
import { type PutEntry, putAll, StreamUnavailableError } from '../../lib/stream/producer.js';
import { alive, childrenOf, spawnTally } from '../../local/chaos/run.js';
import { FileCheckpoints } from '../../local/checkpoints.js';
import { type KafkaBroker, kafkaMissing, startKafkaBroker } from '../../local/kafka-broker.js';
import { readStream } from '../../local/main.js';
import { waitFor } from '../../local/ports.js';
import { lakeEvent } from '../helpers/events.js';
import { eventIdsOnTopic } from '../helpers/kafka.js';
import { waitForLake } from '../helpers/lake.js';
import { postBatch, sendBatch, startTestPipeline } from '../helpers/pipeline.js';

const missing = kafkaMissing();
const MAIN = fileURLToPath(new URL('../../local/main.ts', import.meta.url));

/** Stream records of `count` events (one event per record), keyed by user as the collector keys them. */
function records(prefix: string, count: number): { entries: PutEntry[]; ids: string[] } {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const entries = ids.map((eventId, i) => ({
    partitionKey: `user-${i % 17}`,
    data: encodeRecords([
      {
        kind: 'event',
        event: lakeEvent({ project: 'k', eventId, userHash: BigInt(i % 17), eventTime: Date.now() }),
      },
    ])[0]!,
  }));
  return { entries, ids };
}

/** Every event id in the lake's Parquet files, read back by DuckDB (a second reader), with repeats. */
async function lakeEventIds(lake: string): Promise<string[]> {
  const files = (await readdir(lake, { recursive: true }).catch(() => [] as string[])).filter((f) =>
    f.endsWith('.parquet'),
  );
  if (files.length === 0) return [];
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  try {
    const reader = await db.runAndReadAll(
      `SELECT event_id FROM read_parquet([${files.map((f) => `'${join(lake, f)}'`).join(', ')}])`,
    );
    return reader.getRows().map(([id]) => String(id));
  } finally {
    db.closeSync();
    instance.closeSync();
  }
}

/** Every (event id, received time) of the lake's Parquet files, with repeats, and the files' keys. */
async function lakeCopies(lake: string): Promise<{ rows: Array<[string, string]>; files: string[] }> {
  const files = (await readdir(lake, { recursive: true }).catch(() => [] as string[])).filter((f) =>
    f.endsWith('.parquet'),
  );
  if (files.length === 0) return { rows: [], files };
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  try {
    const reader = await db.runAndReadAll(
      `SELECT event_id, CAST(received_at AS VARCHAR) FROM read_parquet([${files.map((f) => `'${join(lake, f)}'`).join(', ')}])`,
    );
    return { rows: reader.getRows().map(([id, at]) => [String(id), String(at)]), files };
  } finally {
    db.closeSync();
    instance.closeSync();
  }
}

/** A Kafka event source mapping's delivery of these records, as Lambda hands it to the function. */
function mskEvent(brokers: string[], messages: Message[]): MSKEvent {
  const records: Record<string, MSKRecord[]> = {};
  for (const m of messages) {
    const key = `${m.topic}-${m.partition}`;
    records[key] = records[key] ?? [];
    records[key].push({
      topic: m.topic,
      partition: m.partition,
      offset: Number(m.offset),
      timestamp: Number(m.timestamp),
      timestampType: 'LOG_APPEND_TIME',
      key: m.key ? Buffer.from(m.key).toString('base64') : '',
      value: Buffer.from(m.value).toString('base64'),
      headers: [],
    });
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:eu-west-1:123456789012:cluster/tally/0000-1',
    bootstrapServers: brokers.join(','),
    records,
  };
}

/**
 * Lambda's Kafka event source mapping in miniature: a member of the lake writer's consumer group
 * that hands what each poll brought to the Lambda handler as one delivery, and commits each
 * partition's next offset only once the handler succeeded (a commit refused after a rebalance
 * leaves the records to the partition's next owner). `crashAfterNextWrite` leaves the group after
 * a delivery is written and before its commit: a function killed between the two.
 */
class GroupMember {
  readonly delivered: string[] = [];
  crashAfterNextWrite = false;
  crashed = false;
  private readonly consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  private readonly buffer: Message[] = [];
  private running = true;
  private loop: Promise<void> = Promise.resolve();
  private stream: { close(): Promise<void> } | null = null;

  constructor(
    name: string,
    private readonly brokers: string[],
    private readonly topic: string,
    private readonly handler: (event: MSKEvent) => Promise<void>,
  ) {
    this.consumer = new Consumer({
      clientId: name,
      groupId: `${topic}-lake-writer`,
      bootstrapBrokers: brokers,
      sessionTimeout: 6000,
      heartbeatInterval: 500,
      rebalanceTimeout: 6000,
    });
  }

  async start(): Promise<void> {
    const stream = await this.consumer.consume({
      topics: [this.topic],
      mode: 'committed',
      fallbackMode: 'earliest',
      autocommit: false,
      maxWaitTime: 100,
    });
    stream.on('data', (m: Message) => this.buffer.push(m));
    this.stream = stream;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      await new Promise((done) => setTimeout(done, 50));
      const batch = this.buffer.splice(0, 150);
      if (batch.length === 0) continue;
      await this.handler(mskEvent(this.brokers, batch));
      this.delivered.push(...batch.map((m) => `${m.partition}@${m.offset}`));
      if (this.crashAfterNextWrite) {
        this.crashed = true;
        return;
      }
      const last = new Map<number, Message>();
      for (const m of batch) last.set(m.partition, m);
      for (const m of last.values()) await Promise.resolve(m.commit()).catch(() => undefined);
    }
  }

  /** Leaves the group (after the crash, with nothing more committed). */
  async leave(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.stream?.close();
    await this.consumer.close(true);
  }
}

/** Polls the topic into the lake until `expected` event ids are there (or the deadline passes). */
async function pollUntil(
  brokers: string[],
  topic: string,
  dir: string,
  expected: number,
): Promise<{ ids: string[]; files: number }> {
  const reader = new KafkaStreamReader(brokers, topic);
  const lake = join(dir, 'lake');
  const poller = new LocalPoller(
    reader,
    new FileCheckpoints(join(dir, 'checkpoints'), topic),
    createLakeWriterHandler(new FsObjectStore(lake), silentLogger),
    silentLogger,
    { batchSize: 100, batchingWindowMs: 50, idleMs: 50, onFailure: async () => undefined },
  );
  await poller.start();
  const deadline = Date.now() + 60_000;
  let ids = await lakeEventIds(lake);
  while (new Set(ids).size < expected && Date.now() < deadline) {
    await new Promise((done) => setTimeout(done, 200));
    ids = await lakeEventIds(lake);
  }
  await poller.stop();
  await reader.close();
  const files = (await readdir(lake, { recursive: true })).filter((f) => f.endsWith('.parquet')).length;
  return { ids: await lakeEventIds(lake), files };
}

describe('the Kafka stream, against a real Apache Kafka broker', () => {
  let broker: KafkaBroker | null = null;
  let dir = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tally-kafka-'));
    if (missing) {
      if (process.env.TALLY_REQUIRE_KAFKA) throw new Error(`a Kafka broker is required here: ${missing}`);
      console.warn(`no Kafka broker here, its tests are skipped: ${missing}`);
      return;
    }
    broker = await startKafkaBroker({ dataDir: join(dir, 'broker') });
  }, 120_000);

  afterAll(async () => {
    await broker?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("carries the collector's records to the lake, each once, and a second poller resumes after the first's checkpoints", async (ctx) => {
    if (!broker) return ctx.skip();
    // Arrange: a topic of 3 partitions and 300 events put by the collector's writer.
    const topic = 'events-once';
    await ensureTopic(broker.brokers, topic, { partitions: 3, retentionHours: 168 });
    const writer = new KafkaStreamWriter(broker.brokers, topic);
    const first = records('a', 300);
    await putAll(writer, first.entries);

    // Act: poll into the lake; then put 100 more and poll again with a new poller.
    const one = await pollUntil(broker.brokers, topic, join(dir, 'once'), 300);
    const second = records('b', 100);
    await putAll(writer, second.entries);
    const two = await pollUntil(broker.brokers, topic, join(dir, 'once'), 400);
    await writer.close();

    // Assert: every event once; the second poller wrote only the new events' files.
    expect(one.ids.sort()).toEqual([...first.ids].sort());
    expect(two.ids.sort()).toEqual([...first.ids, ...second.ids].sort());
    expect(two.files).toBeGreaterThan(one.files);
  }, 120_000);

  it("tells the collector each record's partition and offset, where the reader finds it", async (ctx) => {
    if (!broker) return ctx.skip();
    // Arrange
    const topic = 'events-offsets';
    await ensureTopic(broker.brokers, topic, { partitions: 3, retentionHours: 168 });
    const writer = new KafkaStreamWriter(broker.brokers, topic);
    const batch = records('o', 50);
    const again = batch.entries.slice(0, 10);

    // Act: two calls (the second puts ten of the first's records again), each entry a partition
    // failed retried as the collector does (putAll); then read every partition.
    const putEach = async (entries: PutEntry[]) => {
      const outcomes = await writer.putRecords(entries);
      for (let attempt = 0; attempt < 5 && outcomes.some((o) => o.errorCode); attempt++) {
        const failed = outcomes.flatMap((o, i) => (o.errorCode ? [i] : []));
        const retried = await writer.putRecords(failed.map((i) => entries[i]!));
        failed.forEach((i, k) => {
          outcomes[i] = retried[k]!;
        });
      }
      return outcomes;
    };
    const outcomes = [...(await putEach(batch.entries)), ...(await putEach(again))];
    await writer.close();
    const reader = new KafkaStreamReader(broker.brokers, topic);
    const found = new Map<string, { key: string; data: string }>();
    for (const shard of await reader.listShards()) {
      const read = await reader.read(await reader.iterator(shard, null), 1000);
      for (const r of read.records)
        found.set(`${shard}@${r.sequenceNumber}`, {
          key: r.partitionKey,
          data: Buffer.from(r.data).toString('base64'),
        });
    }
    await reader.close();

    // Assert: each outcome names the record's place; one key's records share a partition.
    const put = [...batch.entries, ...again].map((e) => ({
      key: e.partitionKey,
      data: Buffer.from(e.data).toString('base64'),
    }));
    expect(outcomes.map((o) => found.get(`${o.shardId}@${o.sequenceNumber}`))).toEqual(put);
    // Nothing else on the topic: a partition that failed was retried alone, not its call's others.
    expect(found.size).toBe(60);
    const shardsOfKey = new Map<string, Set<string>>();
    for (const [i, o] of outcomes.entries()) {
      const key = put[i]!.key;
      shardsOfKey.set(key, (shardsOfKey.get(key) ?? new Set()).add(o.shardId!));
    }
    expect([...shardsOfKey.values()].every((shards) => shards.size === 1)).toBe(true);
    expect(new Set(outcomes.map((o) => o.shardId)).size).toBe(3);
  }, 120_000);

  it('loses no acknowledged record when the broker is killed with SIGKILL mid-load and started again', async (ctx) => {
    if (!broker) return ctx.skip();
    // Arrange
    const topic = 'events-kill';
    await ensureTopic(broker.brokers, topic, { partitions: 2, retentionHours: 168 });
    const writer = new KafkaStreamWriter(broker.brokers, topic);
    const acknowledged: string[] = [];
    const refused: string[] = [];

    // Act: 30 calls of 20 records; the broker is killed after the 10th and started after the 15th.
    for (let call = 0; call < 30; call++) {
      const batch = records(`c${call}`, 20);
      if (call === 10) await broker.kill();
      if (call === 15) await broker.start();
      try {
        await putAll(writer, batch.entries, { policy: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 200 } });
        acknowledged.push(...batch.ids);
      } catch (error) {
        expect(error).toBeInstanceOf(StreamUnavailableError);
        refused.push(...batch.ids);
      }
    }
    await writer.close();
    const { ids } = await pollUntil(broker.brokers, topic, join(dir, 'kill'), acknowledged.length);

    // Assert: the calls while the broker was down were refused, every acknowledged one is in the
    // lake once, and a refused one at most once (a produce may land after its call gave up).
    expect(refused.length).toBeGreaterThan(0);
    expect(acknowledged.length).toBeGreaterThanOrEqual(20 * 20);
    const inLake = new Set(ids);
    expect(acknowledged.filter((id) => !inLake.has(id))).toEqual([]);
    expect(ids.length).toBe(inLake.size);
  }, 180_000);

  it('runs the whole pipeline on a broker it starts itself: the API counts the people sent to the collector', async (ctx) => {
    if (!broker) return ctx.skip();
    // Arrange: the local pipeline on Kafka (TALLY_STREAM=kafka, no brokers given), three people.
    const started = await startTestPipeline('kafka', { kafka: {} });
    try {
      const { pipeline } = started;
      const now = new Date().toISOString();
      const batch = ['ana', 'ben', 'cy', 'ana'].map((userId) => ({
        type: 'track',
        event: 'Viewed',
        userId,
        messageId: randomUUID(),
        timestamp: now,
      }));

      // Act
      const response = await sendBatch(pipeline, batch);
      await waitForLake(
        new FsObjectStore(pipeline.lakeRoot!),
        batch.map((e) => e.messageId),
      );
      await pipeline.warehouse!.rollupNow();
      const today = now.slice(0, 10);
      const answer = await fetch(
        `${pipeline.url}/v1/projects/default/active-users?from=${today}&to=${today}`,
        {
          headers: { authorization: `Bearer ${pipeline.readKeys.default}` },
        },
      );

      // Assert
      expect(response.status).toBe(200);
      expect(pipeline.streamArn).toBe('kafka:tally-events');
      expect(((await answer.json()) as { days: unknown[] }).days).toEqual([
        expect.objectContaining({ date: today, dau: 3, wau: 3, mau: 3 }),
      ]);
    } finally {
      await started.close();
    }
  }, 180_000);

  it('signs in with SASL/SCRAM-SHA-512 where a cluster asks for it (TALLY_KAFKA_AUTH=scram), and a wrong password is refused', async (ctx) => {
    if (!broker) return ctx.skip();
    // Arrange: a broker whose second listener takes only SCRAM users; the connection as npm start reads it.
    const scramBroker = await startKafkaBroker({
      dataDir: join(dir, 'scram'),
      scramUser: { username: 'tally', password: 'pa55-word' },
    });
    try {
      const env = {
        TALLY_STREAM: 'kafka',
        TALLY_KAFKA_BROKERS: scramBroker.scramBrokers!.join(','),
        TALLY_KAFKA_AUTH: 'scram',
        TALLY_KAFKA_TLS: 'false',
        TALLY_KAFKA_USERNAME: 'tally',
        TALLY_KAFKA_PASSWORD: 'pa55-word',
      };
      const connection = readStream(env)!.connection!;
      const wrong = readStream({ ...env, TALLY_KAFKA_PASSWORD: 'wrong' })!.connection!;
      const batch = records('scram', 20);

      // Act
      await ensureTopic(connection, 'scram-events', { partitions: 2, retentionHours: 1 });
      const writer = new KafkaStreamWriter(connection, 'scram-events');
      await putAll(writer, batch.entries);
      await writer.close();
      const read = await eventIdsOnTopic(connection, 'scram-events');
      const refused = await ensureTopic(wrong, 'scram-other', { partitions: 1, retentionHours: 1 }).then(
        () => null,
        (error: Error) => error,
      );

      // Assert
      expect(connection.sasl).toMatchObject({ mechanism: 'SCRAM-SHA-512', username: 'tally' });
      expect(read.sort()).toEqual([...batch.ids].sort());
      expect(refused).toBeInstanceOf(Error);
      expect(JSON.stringify([String(refused), (refused as { errors?: unknown })?.errors ?? null])).toMatch(
        /auth|SASL|credentials/i,
      );
    } finally {
      await scramBroker.stop();
    }
  }, 180_000);

  it("hears a broker throttle the collector's writes (a client quota), which StreamThrottling counts, and loses none of them", async (ctx) => {
    if (!broker) return ctx.skip();
    // Arrange: a topic; then a quota on the collector's client id, far below what it will send.
    const topic = 'events-throttled';
    await ensureTopic(broker.brokers, topic, { partitions: 1, retentionHours: 1 });
    const admin = new Admin({ clientId: 'tally-admin', bootstrapBrokers: broker.brokers });
    const quota = (remove: boolean) =>
      admin.alterClientQuotas({
        entries: [
          {
            entities: [{ entityType: 'client-id', entityName: 'tally-collector' }],
            ops: [
              remove
                ? { key: 'producer_byte_rate', remove }
                : { key: 'producer_byte_rate', value: 4096, remove },
            ],
          },
        ],
      });
    const throttles: number[] = [];
    const stop = onProduceThrottled((ms) => throttles.push(ms));
    const writer = new KafkaStreamWriter(broker.brokers, topic);
    const sent: string[] = [];
    const put = async (prefix: string) => {
      const batch = records(prefix, 150);
      await putAll(writer, batch.entries);
      sent.push(...batch.ids);
    };
    try {
      // Act: a put without the quota, then three with it.
      await put('free');
      const unthrottled = throttles.length;
      await quota(false);
      await new Promise((done) => setTimeout(done, 500));
      for (const prefix of ['q1', 'q2', 'q3']) await put(prefix);

      // Assert: no throttle before the quota, some after; every acknowledged event on the topic.
      expect(unthrottled).toBe(0);
      expect(throttles.length).toBeGreaterThan(0);
      expect(Math.min(...throttles)).toBeGreaterThan(0);
      expect((await eventIdsOnTopic(broker.brokers, topic)).sort()).toEqual([...sent].sort());
    } finally {
      stop();
      await writer.close();
      await quota(true);
      await admin.close();
    }
  }, 120_000);

  it('starts its own broker again when it is killed from outside, and delivers what was sent meanwhile', async (ctx) => {
    if (!broker) return ctx.skip();
    // Arrange: the local pipeline on a broker of its own.
    const started = await startTestPipeline('kafka-restart', { kafka: {} });
    try {
      const { pipeline } = started;
      const [first] = childrenOf(process.pid, started.dataDir);
      const batch = Array.from({ length: 20 }, (_, i) => ({
        type: 'track',
        event: 'Restarted',
        userId: `u-${i}`,
        messageId: `restart-${i}`,
      }));

      // Act: SIGKILL the broker; send while it starts again, as an SDK does (again after a 503).
      process.kill(first!, 'SIGKILL');
      const statuses: number[] = [];
      while (statuses.at(-1) !== 200 && statuses.length < 60) {
        statuses.push((await sendBatch(pipeline, batch)).status);
        if (statuses.at(-1) !== 200) await new Promise((done) => setTimeout(done, 1000));
      }
      await waitForLake(
        new FsObjectStore(pipeline.lakeRoot!),
        batch.map((e) => e.messageId),
        60_000,
      );
      const [second] = childrenOf(process.pid, started.dataDir);
      const { rows } = await lakeCopies(pipeline.lakeRoot!);

      // Assert: another broker process; refused (503) while it started, then acknowledged; every
      // event in the lake (a refused produce may have landed too: the warehouse judges the copies).
      expect(first).toBeGreaterThan(0);
      expect(second).toBeGreaterThan(0);
      expect(second).not.toBe(first);
      expect(statuses.at(-1)).toBe(200);
      expect(statuses.every((status) => status === 200 || status === 503)).toBe(true);
      expect(new Set(rows.map(([id]) => id))).toEqual(new Set(batch.map((e) => e.messageId)));
    } finally {
      await started.close();
    }
  }, 180_000);

  it('kill -9 of TALLY_STREAM=kafka npm start right after a 200 loses and doubles nothing; its broker dies with it', async (ctx) => {
    if (!broker) return ctx.skip();
    // Arrange: npm start on Kafka in its own process, on a data dir of its own.
    const dataDir = join(dir, 'crash');
    const env = { ...process.env, TALLY_DATA_DIR: dataDir, PORT: '0', TALLY_STREAM: 'kafka' };
    const first = spawnTally(MAIN, env);
    const { url, writeKey } = await first.ready;
    const [java] = childrenOf(first.child.pid!, 'server.properties');
    const ids = Array.from({ length: 400 }, (_, i) => `crash-${i}`);
    const body = JSON.stringify({
      batch: ids.map((messageId, i) => ({
        type: 'track',
        event: 'Crashed',
        messageId,
        userId: `u-${i % 9}`,
      })),
    });

    // Act: a 200, then SIGKILL at once; then start again and wait for the lake.
    const status = await postBatch(url, writeKey, body);
    process.kill(first.child.pid!, 'SIGKILL');
    await waitFor('the broker to end with its parent', async () => !alive(java), 15_000);
    const again = spawnTally(MAIN, env);
    await again.ready;
    let rows: { event_id: string }[];
    try {
      rows = await waitForLake(new FsObjectStore(join(dataDir, 'lake')), ids, 60_000);
    } finally {
      again.child.kill('SIGINT');
      await new Promise((done) => again.child.once('exit', done));
    }

    // Assert: acknowledged, the broker gone with its parent, every event in the lake once.
    expect(status).toBe(200);
    expect(java).toBeGreaterThan(0);
    expect(rows.map((r) => r.event_id).sort()).toEqual([...ids].sort());
  }, 240_000);
  it('loses nothing when a second lake writer joins the group and leaves between writing a delivery and committing it; what it wrote twice is an identical copy, counted once', async (ctx) => {
    if (!broker) return ctx.skip();
    // Arrange: 4 partitions; the Lambda lake writer behind each group member, one lake.
    const topic = 'events-rebalance';
    await ensureTopic(broker.brokers, topic, { partitions: 4, retentionHours: 168 });
    const writer = new KafkaStreamWriter(broker.brokers, topic);
    const lake = join(dir, 'rebalance', 'lake');
    const handler = createKafkaLakeWriterHandler(new FsObjectStore(lake), silentLogger);
    const first = new GroupMember('first', broker.brokers, topic, handler);
    const second = new GroupMember('second', broker.brokers, topic, handler);
    const sent: string[] = [];
    const put = async (prefix: string, count: number) => {
      const batch = records(prefix, count);
      await putAll(writer, batch.entries);
      sent.push(...batch.ids);
    };
    const until = (what: string, check: () => boolean | Promise<boolean>) =>
      waitFor(what, async () => check(), 60_000);

    // Act: the first member reads alone; the second joins while more arrive; the second then
    // writes a delivery and leaves before committing it; the rest arrives; the first finishes.
    await put('r1', 600);
    await first.start();
    await until('the first member to deliver', () => first.delivered.length >= 150);
    await second.start();
    await put('r2', 600);
    await until('the second member to get partitions', () => second.delivered.length > 0);
    second.crashAfterNextWrite = true;
    await put('r3', 300);
    await until('the second member to write and crash', () => second.crashed);
    await second.leave();
    await put('r4', 300);
    await until(
      'every event in the lake',
      async () => new Set((await lakeCopies(lake)).rows.map(([id]) => id)).size >= sent.length,
    );
    await first.leave();
    await writer.close();
    const { rows, files } = await lakeCopies(lake);

    // Assert: every event is in the lake; a repeated row is an identical copy (same event, same
    // append time), which the warehouse counts once; the crash's uncommitted delivery was read again.
    expect(new Set(rows.map(([id]) => id))).toEqual(new Set(sent));
    expect(new Set(rows.map(([id, at]) => `${id}|${at}`)).size).toBe(sent.length);
    const crashed = new Set(second.delivered);
    expect(first.delivered.filter((place) => crashed.has(place)).length).toBeGreaterThan(0);
    expect(files.every((f) => /partition-\d+/.test(f))).toBe(true);
  }, 180_000);

  it('makes the events topic at deploy: created, grown, never shrunk nor dropped, and a bad name refused', async (ctx) => {
    if (!broker) return ctx.skip();
    // Arrange: the custom resource's handler on the real broker (an MSK cluster's GetBootstrapBrokers answered here).
    const answers: CustomResourceResponse[] = [];
    const asked: string[] = [];
    const handler = createKafkaTopicHandler({
      async bootstrapBrokers(clusterArn) {
        asked.push(clusterArn);
        return broker!.brokers.join(',');
      },
      async connect(brokers) {
        return { brokers: brokers.split(',') };
      },
      async respond(_url, response) {
        answers.push(response);
      },
      logger: silentLogger,
    });
    const event = (RequestType: string, props: Record<string, unknown>) =>
      ({
        RequestType,
        ResponseURL: 'https://cloudformation.example/response',
        StackId: 'stack',
        RequestId: `request-${answers.length}`,
        LogicalResourceId: 'KafkaTopic',
        ResourceType: 'Custom::KafkaTopic',
        ServiceToken: 'token',
        PhysicalResourceId: 'deploy-topic',
        ResourceProperties: { ServiceToken: 'token', ...props },
        OldResourceProperties: {},
      }) as unknown as CloudFormationCustomResourceEvent;
    const cluster = 'arn:aws:kafka:eu-west-1:123456789012:cluster/tally/0000-1';
    const partitionsOf = async () => {
      const reader = new KafkaStreamReader(broker!.brokers, 'deploy-topic');
      try {
        return (await reader.listShards()).length;
      } finally {
        await reader.close();
      }
    };

    // Act
    await handler(
      event('Create', { Topic: 'deploy-topic', Partitions: '3', RetentionHours: '168', ClusterArn: cluster }),
    );
    const created = await partitionsOf();
    await handler(
      event('Update', { Topic: 'deploy-topic', Partitions: '5', RetentionHours: '168', ClusterArn: cluster }),
    );
    const grown = await partitionsOf();
    await handler(
      event('Update', {
        Topic: 'deploy-topic',
        Partitions: '2',
        RetentionHours: '168',
        Brokers: broker.brokers.join(','),
      }),
    );
    await handler(
      event('Delete', { Topic: 'deploy-topic', Partitions: '2', RetentionHours: '168', ClusterArn: cluster }),
    );
    const afterDelete = await partitionsOf();
    await handler(
      event('Create', { Topic: 'a topic', Partitions: '3', RetentionHours: '168', ClusterArn: cluster }),
    );

    // Assert
    expect([created, grown, afterDelete]).toEqual([3, 5, 5]);
    expect(asked).toEqual([cluster, cluster]);
    expect(answers.map((a) => [a.Status, a.Data?.Partitions])).toEqual([
      ['SUCCESS', '3'],
      ['SUCCESS', '5'],
      ['SUCCESS', '5'],
      ['SUCCESS', undefined],
      ['FAILED', undefined],
    ]);
    expect(answers[0]!.Data?.Brokers).toBe(broker.brokers.join(','));
    expect(answers[4]!.Reason).toContain('"a topic"');
    expect(answers.every((a) => a.PhysicalResourceId !== '')).toBe(true);
  }, 120_000);
});
