import { describe, expect, it } from 'vitest';
import { failedBatchEvent } from '../../lib/stream/failed-batch.js';

const invocation = {
  Records: [
    { kinesis: { data: Buffer.from('x').toString('base64'), sequenceNumber: '101', partitionKey: 'k' } },
  ],
};

describe('reading a failed-batch object for replay', () => {
  it.each([
    ['a JSON text', JSON.stringify(invocation)],
    ['base64 of a JSON text', Buffer.from(JSON.stringify(invocation)).toString('base64')],
    ['an object', invocation],
  ])('takes the invocation from "payload" as %s', (_, payload) => {
    const event = failedBatchEvent(JSON.stringify({ KinesisBatchInfo: { shardId: 's' }, payload }), 'f.json');
    expect(event.Records.map((r) => r.kinesis.sequenceNumber)).toEqual(['101']);
  });

  it.each([
    ['not JSON', 'nope', /f\.json: not JSON/],
    [
      'metadata only (an SQS or SNS destination)',
      JSON.stringify({ KinesisBatchInfo: {} }),
      /no records under "payload\.Records"/,
    ],
    [
      'a payload that is not an invocation',
      JSON.stringify({ payload: '{"Records": [{}]}' }),
      /record 0 has no kinesis\.data/,
    ],
    [
      'a payload that is neither JSON nor base64 JSON',
      JSON.stringify({ payload: '%%%' }),
      /"payload" is not a JSON invocation/,
    ],
  ])('refuses %s, naming the object', (_, text, message) => {
    expect(() => failedBatchEvent(text, 'f.json')).toThrow(message);
  });
});
