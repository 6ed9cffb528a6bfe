import { describe, expect, it } from 'vitest';
import {
  MAX_BYTES_PER_CALL,
  type PutEntry,
  planCalls,
  putAll,
  StreamUnavailableError,
} from '../../lib/stream/producer.js';
import { MemoryStream } from '../helpers/memory.js';

const entry = (i: number, size = 10): PutEntry => ({
  data: Buffer.alloc(size, i % 256),
  partitionKey: `pk-${i}`,
});
const fast = { sleep: async () => {}, policy: { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 4 } };

describe('putAll', () => {
  it('retries only the entries that failed', async () => {
    const seen = new Map<string, number>();
    const stream = new MemoryStream((e) => {
      const n = (seen.get(e.partitionKey) ?? 0) + 1;
      seen.set(e.partitionKey, n);
      return Number(e.partitionKey.slice(3)) % 3 === 0 && n === 1
        ? 'ProvisionedThroughputExceededException'
        : undefined;
    });
    await putAll(
      stream,
      Array.from({ length: 9 }, (_, i) => entry(i)),
      fast,
    );
    expect(stream.calls).toEqual([9, 3]);
    expect(stream.written.map((e) => e.partitionKey).sort()).toEqual(
      Array.from({ length: 9 }, (_, i) => `pk-${i}`).sort(),
    );
  });

  it('retries a call that threw as a whole', async () => {
    let calls = 0;
    const writer = {
      async putRecords(entries: readonly PutEntry[]) {
        calls++;
        if (calls === 1) throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
        return entries.map(() => ({}));
      },
    };
    await putAll(writer, [entry(1), entry(2)], fast);
    expect(calls).toBe(2);
  });

  it('throws StreamUnavailableError when the budget is spent', async () => {
    const stream = new MemoryStream(() => 'ProvisionedThroughputExceededException');
    const error = await putAll(stream, [entry(1)], fast).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamUnavailableError);
    expect(stream.calls).toHaveLength(5);
  });

  it('backs off exponentially with full jitter under the cap', async () => {
    const delays: number[] = [];
    const stream = new MemoryStream(() => 'InternalFailure');
    await putAll(stream, [entry(1)], {
      sleep: async (ms) => {
        delays.push(ms);
      },
      random: () => 0.999,
      policy: { maxAttempts: 6, baseDelayMs: 10, maxDelayMs: 50 },
    }).catch(() => {});
    expect(delays).toEqual([9, 19, 39, 49, 49]);
  });
});

describe('planCalls', () => {
  it('keeps calls within 500 entries and 5 MiB', () => {
    const many = planCalls(Array.from({ length: 1201 }, (_, i) => entry(i)));
    expect(many.map((c) => c.length)).toEqual([500, 500, 201]);
    const big = planCalls(Array.from({ length: 12 }, (_, i) => entry(i, 1024 * 1024 - 100)));
    for (const call of big) {
      expect(call.reduce((n, e) => n + e.data.length + e.partitionKey.length, 0)).toBeLessThanOrEqual(
        MAX_BYTES_PER_CALL,
      );
    }
    expect(big.flat()).toHaveLength(12);
  });
});
