import { describe, expect, it } from 'vitest';
import { mskIamToken, streamWriterFromEnv } from '../../lambdas/stream.js';
import { readKafkaConnection, readKafkaTopic } from '../../lib/config.js';
import { KafkaStreamWriter } from '../../lib/stream/kafka.js';
import { parseBrokers } from '../../lib/stream/kafka-connection.js';
import { KinesisStreamWriter } from '../../lib/stream/kinesis.js';
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

describe("the Lambdas' stream", () => {
  it("signs MSK's IAM tokens with the function's credentials in its region: a presigned kafka-cluster:Connect", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      AWS_SESSION_TOKEN: 'session-token',
    });
    try {
      expect(mskIamToken({})).toBeUndefined();
      const token = await mskIamToken({ AWS_REGION: 'eu-west-1' })!();
      const url = new URL(Buffer.from(token, 'base64url').toString());
      expect(url.host).toBe('kafka.eu-west-1.amazonaws.com');
      expect(url.searchParams.get('Action')).toBe('kafka-cluster:Connect');
      expect(url.searchParams.get('X-Amz-Credential')).toMatch(
        /^AKIDEXAMPLE\/\d{8}\/eu-west-1\/kafka-cluster\/aws4_request$/,
      );
      expect(url.searchParams.get('X-Amz-Security-Token')).toBe('session-token');
      expect(Number(url.searchParams.get('X-Amz-Expires'))).toBeGreaterThan(0);
      expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    }
  });

  it('writes to Kinesis unless TALLY_STREAM says kafka, and then to the topic of TALLY_KAFKA_TOPIC', async () => {
    expect(streamWriterFromEnv({ TALLY_STREAM_NAME: 'events' })).toBeInstanceOf(KinesisStreamWriter);
    const kafka = streamWriterFromEnv({ TALLY_STREAM: 'kafka', TALLY_KAFKA_BROKERS: '127.0.0.1:1' });
    expect(kafka).toBeInstanceOf(KafkaStreamWriter);
    await (kafka as KafkaStreamWriter).close();
    expect(() => streamWriterFromEnv({ TALLY_STREAM: 'kafka' })).toThrow('TALLY_KAFKA_BROKERS: is required');
    expect(() => streamWriterFromEnv({})).toThrow('TALLY_STREAM_ARN: is required');
  });
});
