import { describe, expect, it } from 'vitest';
import {
  crossoverEventsPerSecond,
  DEFAULT_INPUTS,
  formatPlan,
  type ModelInputs,
  planFor,
} from '../../bench/model.js';

const inputs = (over: Partial<ModelInputs> = {}): ModelInputs => ({
  ...DEFAULT_INPUTS,
  recordBytesPerEvent: 90,
  parquetBytesPerEvent: 30,
  lambdaLogBytesPerRequest: 1000,
  ...over,
});
const cost = (plan: ReturnType<typeof planFor>, part: string) =>
  plan.costs.find((c) => c.part === part)!.monthlyUsd;

describe('the scale model', () => {
  it('sizes shards for both Kinesis limits: 1 MB/s and 1,000 records/s per shard', () => {
    const bytesBound = planFor(inputs({ eventsPerSecond: 1_000_000, eventsPerRequest: 20 }));
    const recordsBound = planFor(inputs({ eventsPerSecond: 100_000, eventsPerRequest: 1 }));

    expect(bytesBound.sizing).toContainEqual(['shards (provisioned)', '90']);
    expect(recordsBound.sizing).toContainEqual(['shards (provisioned)', '100']);
  });

  it('prices API Gateway per request, so bigger batches cost less per event', () => {
    const single = planFor(inputs({ eventsPerRequest: 1 }));
    const batched = planFor(inputs({ eventsPerRequest: 100 }));

    expect(cost(single, 'API Gateway HTTP API') / cost(batched, 'API Gateway HTTP API')).toBeGreaterThan(90);
  });

  it('grows linearly with the event rate where prices are linear', () => {
    const one = planFor(inputs({ eventsPerSecond: 500_000 }));
    const two = planFor(inputs({ eventsPerSecond: 1_000_000 }));

    expect(cost(two, 'S3 storage') / cost(one, 'S3 storage')).toBeCloseTo(2, 5);
    expect(cost(two, 'Lambda collect') / cost(one, 'Lambda collect')).toBeCloseTo(2, 5);
  });

  it('prices the stream on Kafka beside Kinesis: MSK Serverless by cluster, partition and byte, MSK provisioned by broker', () => {
    const line = (plan: ReturnType<typeof planFor>, part: string) =>
      plan.streams.find((c) => c.part === part)!;
    // Nearly idle: one cluster, twelve partitions, one event poller unit, almost no bytes.
    const idle = planFor(inputs({ eventsPerSecond: 1 }));
    const floor = 730 * 0.75 + 12 * 730 * 0.0015 + 730 * 0.185;
    expect(line(idle, 'MSK Serverless').monthlyUsd).toBeGreaterThan(floor);
    expect(line(idle, 'MSK Serverless').monthlyUsd).toBeLessThan(floor + 1);
    expect(line(idle, 'MSK provisioned').detail).toMatch(/^3 kafka\.m7g\.xlarge/);
    // At 1M events/s of 90 B records a event: 90 MB/s, 18 partitions of 5 MiB/s, one cluster.
    const million = planFor(inputs());
    expect(line(million, 'MSK Serverless').detail).toMatch(
      /^1 cluster\(s\) of 200 MiB\/s for 90 MB\/s, 18 partitions/,
    );
    // Past 200 MiB/s a second cluster, and brokers in threes.
    const three = planFor(inputs({ eventsPerSecond: 3_000_000 }));
    expect(line(three, 'MSK Serverless').detail).toMatch(/^2 cluster\(s\)/);
    expect(line(three, 'MSK provisioned').detail).toMatch(/^9 kafka\.m7g\.xlarge/);
    // The Kinesis lines are the plan's own.
    expect(line(million, 'Kinesis provisioned (default)').monthlyUsd).toBe(
      cost(million, 'Kinesis (provisioned)'),
    );
    expect(formatPlan(inputs(), million)).toContain('the stream (tally:stream), monthly');
  });

  it('finds an ALB cheaper than API Gateway at a million events a second', () => {
    const plan = planFor(inputs());
    const alb = plan.alternatives.find((c) => c.part.startsWith('ALB'))!.monthlyUsd;

    expect(alb).toBeLessThan(cost(plan, 'API Gateway HTTP API'));
  });

  it('prices the container tier: ALB bytes, tasks from the measured events per core, bundled stream records', () => {
    const at = (over: Partial<ModelInputs>) => planFor(inputs({ requestBytesPerEvent: 600, ...over }));
    const plan = at({});
    const part = (name: string) => plan.containers.costs.find((c) => c.part === name)!.monthlyUsd;
    // 1M events/s at 43,634 a core and 50% CPU: 46 one-vCPU tasks.
    expect(plan.containers.tasks).toBe(Math.ceil(1_000_000 / 43_634 / 0.5));
    expect(at({ containerEventsPerCoreSecond: 87_268 }).containers.tasks).toBe(23);
    // Bundles of a PUT unit: fewer PUT units than a record per request, the same bytes.
    expect(part('Kinesis (provisioned)')).toBeLessThan(cost(plan, 'Kinesis (provisioned)'));
    // Twice the bytes a request, about twice the ALB.
    const alb = (bytes: number) =>
      at({ requestBytesPerEvent: bytes }).containers.costs.find((c) => c.part === 'ALB')!.monthlyUsd;
    expect(alb(1200) / alb(600)).toBeGreaterThan(1.9);
    expect(plan.containers.total).toBeLessThan(plan.total);
  });

  it('finds the crossover rate where the container tier becomes the cheaper one', () => {
    const i = inputs({ requestBytesPerEvent: 600 });
    const crossover = crossoverEventsPerSecond(i)!;
    expect(crossover).toBeGreaterThan(1);
    const below = planFor({ ...i, eventsPerSecond: crossover * 0.9 });
    const above = planFor({ ...i, eventsPerSecond: crossover * 1.1 });
    expect(below.containers.total).toBeGreaterThan(below.total);
    expect(above.containers.total).toBeLessThan(above.total);
  });

  it("prices the Lambda tier's logs per request, and the container tier's ALB logs in S3 instead", () => {
    const plan = planFor(inputs({ requestBytesPerEvent: 600 }));
    // 50,000 requests a second of 1,000 B for 730 h at $0.50 a GB.
    expect(cost(plan, 'CloudWatch Logs (collect)')).toBeCloseTo((50_000 * 1000 * 730 * 3600 * 0.5) / 1e9, 0);
    const parts = plan.containers.costs.map((c) => c.part);
    expect(parts).not.toContain('CloudWatch Logs (collect)');
    expect(parts).toContain('ALB access logs (S3)');
  });
});

describe('the scale model: the warehouse', () => {
  it('prices StarRocks from the refresh as built (memory of a changed day, its scan of the new files, their GETs) and the whole pipeline per billion events', () => {
    // Arrange
    const plan = planFor(inputs());
    const half = planFor(inputs({ eventsPerSecond: 500_000 }));
    const part = (p: typeof plan, name: string) => p.warehouse.costs.find((c) => c.part === name)!.monthlyUsd;

    // Assert: every part priced; memory sets the nodes at this rate; the scan does when a core scans little.
    expect(plan.warehouse.costs.map((c) => c.part)).toEqual([
      'StarRocks compute nodes',
      'StarRocks frontends',
      'StarRocks cache disk',
      'StarRocks S3 storage',
      'StarRocks S3 GETs',
    ]);
    expect(plan.warehouse.total).toBeCloseTo(
      plan.warehouse.costs.reduce((sum, c) => sum + c.monthlyUsd, 0),
      6,
    );
    expect(plan.warehouse.computeNodes).toBeGreaterThan(half.warehouse.computeNodes);
    expect(planFor(inputs({ starRocksRowsPerCoreSecond: 50_000 })).warehouse.computeNodes).toBeGreaterThan(
      plan.warehouse.computeNodes,
    );
    // Every 5 minutes the refresh reads the files new since the last, three times each: twice the
    // rate, twice the GETs.
    expect(part(plan, 'StarRocks S3 GETs') / part(half, 'StarRocks S3 GETs')).toBeCloseTo(2, 1);
    const text0 = formatPlan(inputs(), plan);
    expect(text0).toMatch(/a rollup reads, per 5 minutes +the new files: 300 M rows/);
    expect(text0).toMatch(/a rollup holds, per 5 minutes +the new rows' ids/);
    expect(plan.monthlyEvents).toBe(1_000_000 * 730 * 3600);
    const text = formatPlan(inputs(), plan);
    const perBillion = (plan.total + plan.warehouse.total) / (plan.monthlyEvents / 1e9);
    expect(text).toContain(
      `$${perBillion.toLocaleString('en', { maximumFractionDigits: 2 })} per billion events`,
    );
  });
});
