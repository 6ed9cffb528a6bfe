import { TallyError } from '../errors.js';

/*
 * What a Kafka connection is, without the client: the configuration reads it, and only the
 * stream code loads the Kafka client.
 */

/** The name of a partition as a shard: lake keys and checkpoints take it as they take Kinesis'. */
export function partitionShard(partition: number): string {
  return `partition-${partition}`;
}

/** A Kafka topic name: 1 to 249 letters, digits, dots, underscores and hyphens. */
export const KAFKA_TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

/** The broker addresses of `TALLY_KAFKA_BROKERS` (`host:port`, comma-separated), each checked. */
export function parseBrokers(text: string): string[] {
  const brokers = text
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  if (brokers.length === 0) throw new TallyError('invalid_config', 'no Kafka broker given');
  for (const broker of brokers) {
    if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(broker))
      throw new TallyError(
        'invalid_config',
        `not a Kafka broker address (host:port): ${JSON.stringify(broker)}`,
      );
  }
  return brokers;
}

/** How to reach a cluster: its brokers, and TLS and SASL where it asks for them. */
export interface KafkaConnection {
  brokers: readonly string[];
  /** TLS to the brokers (Amazon MSK, Confluent: always; a local broker: never). @default false */
  tls?: boolean;
  sasl?: KafkaSasl;
}

/**
 * SASL as Tally's clusters ask for it: SCRAM-SHA-512 with a user and password (MSK provisioned,
 * Confluent, Redpanda) or OAUTHBEARER with a token made on each connection (MSK's IAM
 * authentication: a signed request that expires).
 */
export type KafkaSasl =
  | { mechanism: 'SCRAM-SHA-512'; username: string; password: string }
  | { mechanism: 'OAUTHBEARER'; token: () => Promise<string> };
