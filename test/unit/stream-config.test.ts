import { describe, expect, it } from 'vitest';
import { readKafkaConnection, readKafkaTopic } from '../../lib/config.js';
import { parseBrokers } from '../../lib/stream/kafka-connection.js';
import { readStream } from '../../local/main.js';

describe('the stream npm start runs on', () => {
  it('is kinesis-local unless TALLY_STREAM says kafka', () => {
    expect(readStream({})).toBeNull();
    expect(readStream({ TALLY_STREAM: 'kinesis' })).toBeNull();
    expect(readStream({ TALLY_STREAM: 'kafka' })).toEqual({});
    expect(
      readStream({ TALLY_STREAM: 'kafka', TALLY_KAFKA_BROKERS: 'b-1.example:9092, 10.0.0.2:9092' }),
    ).toEqual({
      connection: { brokers: ['b-1.example:9092', '10.0.0.2:9092'] },
    });
  });

  it('speaks SASL/SCRAM over TLS to a cluster that asks for it, and IAM only with a signer', () => {
    const env = { TALLY_STREAM: 'kafka', TALLY_KAFKA_BROKERS: 'b-1.example:9096', TALLY_KAFKA_AUTH: 'scram' };
    expect(() => readStream(env)).toThrow('TALLY_KAFKA_USERNAME: is required but not set');
    expect(readStream({ ...env, TALLY_KAFKA_USERNAME: 'tally', TALLY_KAFKA_PASSWORD: 'p4ss' })).toEqual({
      connection: {
        brokers: ['b-1.example:9096'],
        tls: true,
        sasl: { mechanism: 'SCRAM-SHA-512', username: 'tally', password: 'p4ss' },
      },
    });
    expect(
      readKafkaConnection({
        ...env,
        TALLY_KAFKA_USERNAME: 'u',
        TALLY_KAFKA_PASSWORD: 'p',
        TALLY_KAFKA_TLS: 'false',
      }).tls,
    ).toBe(false);
    const iam = { TALLY_KAFKA_BROKERS: 'b-1.example:9098', TALLY_KAFKA_AUTH: 'iam' };
    expect(() => readKafkaConnection(iam)).toThrow('iam needs AWS credentials');
    const token = async () => 'signed';
    expect(readKafkaConnection(iam, token)).toEqual({
      brokers: ['b-1.example:9098'],
      tls: true,
      sasl: { mechanism: 'OAUTHBEARER', token },
    });
    expect(() => readKafkaConnection({ ...iam, TALLY_KAFKA_AUTH: 'kerberos' })).toThrow(
      'TALLY_KAFKA_AUTH: must be none, scram or iam, got "kerberos"',
    );
    expect(() => readKafkaConnection({})).toThrow('TALLY_KAFKA_BROKERS: is required');
    expect(() => readKafkaConnection({ TALLY_KAFKA_BROKERS: 'https://b:9092' })).toThrow(
      'TALLY_KAFKA_BROKERS: not a Kafka broker address (host:port): "https://b:9092"',
    );
    expect(readKafkaTopic({})).toBe('tally-events');
    expect(() => readKafkaTopic({ TALLY_KAFKA_TOPIC: 'a topic' })).toThrow('"a topic"');
  });

  it('refuses a stream or broker it does not know, naming the value', () => {
    expect(() => readStream({ TALLY_STREAM: 'pulsar' })).toThrow(
      'TALLY_STREAM: must be kinesis or kafka, got "pulsar"',
    );
    expect(() => readStream({ TALLY_KAFKA_BROKERS: 'b:9092' })).toThrow('TALLY_STREAM is not kafka');
    expect(() => parseBrokers('b:9092,http://c:9092')).toThrow('"http://c:9092"');
    expect(() => parseBrokers(' , ')).toThrow('no Kafka broker given');
  });
});
