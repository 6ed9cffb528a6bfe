import { MultipleErrors, murmur2, ResponseError } from '@platformatic/kafka';
import { describe, expect, it, vi } from 'vitest';
import { KafkaStreamWriter } from '../../lib/stream/kafka.js';

/** A key that Kafka's default partitioner puts on `partition` of 3. */
function keyOn(partition: number, seed: string): string {
  for (let i = 0; ; i++) {
    const key = `${seed}-${i}`;
    if ((murmur2(Buffer.from(key)) & 0x7fffffff) % 3 === partition) return key;
  }
}

/** The writer over a stand-in of the Kafka client whose produce fails as the real one does. */
function writerFailingWith(error: Error) {
  const writer = new KafkaStreamWriter(['127.0.0.1:1'], 'events');
  const clearMetadata = vi.fn();
  const client = {
    metadata: async () => ({ topics: new Map([['events', { partitionsCount: 3 }]]) }),
    send: async () => {
      throw error;
    },
    clearMetadata,
    close: async () => {},
  };
  Object.assign(writer, { producer: client });
  return { writer, clearMetadata };
}

describe("the Kafka writer's outcomes when a produce fails", () => {
  it('reports the partitions an answer with an error still names as appended, fails only the others, and refreshes stale metadata', async () => {
    // The client's error for one broker's answer naming NOT_LEADER_OR_FOLLOWER (6) for partition 1.
    const response = {
      responses: [
        {
          name: 'events',
          partitionResponses: [
            { index: 0, errorCode: 0, baseOffset: 100n },
            { index: 1, errorCode: 6, baseOffset: -1n },
            { index: 2, errorCode: 0, baseOffset: 7n },
          ],
        },
      ],
      throttleTimeMs: 0,
    };
    const error = new MultipleErrors('Producing messages failed.', [
      new MultipleErrors('produce failed 1 times.', [
        new ResponseError(0, 11, { '/responses/0/partition_responses/1': [6, null] }, response),
      ]),
    ]);
    const { writer, clearMetadata } = writerFailingWith(error);
    const entries = [keyOn(0, 'a'), keyOn(1, 'b'), keyOn(2, 'c'), keyOn(0, 'd')].map((partitionKey) => ({
      partitionKey,
      data: new Uint8Array([1]),
    }));

    const outcomes = await writer.putRecords(entries);

    expect(outcomes).toEqual([
      { shardId: 'partition-0', sequenceNumber: '100' },
      { errorCode: expect.any(String) },
      { shardId: 'partition-2', sequenceNumber: '7' },
      { shardId: 'partition-0', sequenceNumber: '101' },
    ]);
    expect(clearMetadata).toHaveBeenCalled();
  });

  it('throws when nothing was appended, so the whole call is retried', async () => {
    const { writer } = writerFailingWith(
      new MultipleErrors('Producing messages failed.', [new Error('timeout')]),
    );
    await expect(writer.putRecords([{ partitionKey: 'k', data: new Uint8Array([1]) }])).rejects.toThrow(
      'Producing messages failed.',
    );
  });
});
