import { generateAuthToken } from 'aws-msk-iam-sasl-signer-js';
import {
  type Env,
  readEndpoint,
  readKafkaConnection,
  readKafkaTopic,
  readStreamKind,
  readStreamRef,
} from '../lib/config.js';
import { KafkaStreamWriter, onProduceThrottled } from '../lib/stream/kafka.js';
import { KinesisStreamWriter } from '../lib/stream/kinesis.js';
import type { StreamWriter } from '../lib/stream/producer.js';
import { kinesisClient } from './aws.js';

/**
 * MSK's IAM authentication: a token per connection, signed with the function's or task's own
 * credentials in its region (AWS's MSK IAM signer), none kept past its expiry.
 */
export function mskIamToken(env: Env): (() => Promise<string>) | undefined {
  const region = env.AWS_REGION?.trim();
  if (!region) return undefined;
  return async () => (await generateAuthToken({ region })).token;
}

/**
 * The collector's stream, as the deploy configured it: the Kinesis stream of `TALLY_STREAM_ARN`,
 * or with `TALLY_STREAM=kafka` the topic `TALLY_KAFKA_TOPIC` on `TALLY_KAFKA_BROKERS`.
 */
export function streamWriterFromEnv(env: Env): StreamWriter {
  if (readStreamKind(env) === 'kafka') {
    return new KafkaStreamWriter(readKafkaConnection(env, mskIamToken(env)), readKafkaTopic(env));
  }
  return new KinesisStreamWriter(kinesisClient(readEndpoint(env, 'KINESIS')), readStreamRef(env));
}

/** Calls `count` for each produce a Kafka broker throttled, when the stream is Kafka (Kinesis reports its own). */
export function onStreamThrottled(env: Env, count: () => void): void {
  if (readStreamKind(env) === 'kafka') onProduceThrottled(count);
}
