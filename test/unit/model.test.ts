import { describe, expect, it } from 'vitest';
import { DEFAULT_INPUTS, type ModelInputs, planFor } from '../../bench/model.js';

const inputs = (over: Partial<ModelInputs> = {}): ModelInputs => ({
  ...DEFAULT_INPUTS,
  recordBytesPerEvent: 90,
  parquetBytesPerEvent: 30,
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

  it('finds an ALB cheaper than API Gateway at a million events a second', () => {
    const plan = planFor(inputs());
    const alb = plan.alternatives.find((c) => c.part.startsWith('ALB'))!.monthlyUsd;

    expect(alb).toBeLessThan(cost(plan, 'API Gateway HTTP API'));
  });
});
