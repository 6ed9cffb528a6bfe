import { describe, expect, it } from 'vitest';
import { parseBrokers } from '../../lib/stream/kafka.js';
import { readStream } from '../../local/main.js';

describe('the stream npm start runs on', () => {
  it('is kinesis-local unless TALLY_STREAM says kafka', () => {
    expect(readStream({})).toBeNull();
    expect(readStream({ TALLY_STREAM: 'kinesis' })).toBeNull();
    expect(readStream({ TALLY_STREAM: 'kafka' })).toEqual({});
    expect(
      readStream({ TALLY_STREAM: 'kafka', TALLY_KAFKA_BROKERS: 'b-1.example:9092, 10.0.0.2:9092' }),
    ).toEqual({
      brokers: ['b-1.example:9092', '10.0.0.2:9092'],
    });
  });

  it('refuses a stream or broker it does not know, naming the value', () => {
    expect(() => readStream({ TALLY_STREAM: 'pulsar' })).toThrow(
      'TALLY_STREAM must be kinesis or kafka, got "pulsar"',
    );
    expect(() => readStream({ TALLY_KAFKA_BROKERS: 'b:9092' })).toThrow('TALLY_STREAM is not kafka');
    expect(() => parseBrokers('b:9092,http://c:9092')).toThrow('"http://c:9092"');
    expect(() => parseBrokers(' , ')).toThrow('no Kafka broker given');
  });
});
