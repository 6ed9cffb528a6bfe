import { GetBootstrapBrokersCommand, KafkaClient } from '@aws-sdk/client-kafka';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { readKafkaConnection } from '../../lib/config.js';
import type { Logger } from '../../lib/log.js';
import { ensureTopic } from '../../lib/stream/kafka.js';
import { KAFKA_TOPIC_NAME, type KafkaConnection } from '../../lib/stream/kafka-connection.js';
import { type CustomResourceResponse, customResourceResponse, putResponse } from '../custom-resource.js';
import { lambdaLogger } from '../logger.js';
import { withSecrets } from '../secrets.js';
import { mskIamToken } from '../stream.js';

export interface KafkaTopicDeps {
  /** The bootstrap brokers of an MSK cluster with IAM authentication (GetBootstrapBrokers). */
  bootstrapBrokers(clusterArn: string): Promise<string>;
  /** The connection to those brokers, as the collector makes it from its environment. */
  connect(brokers: string): Promise<KafkaConnection>;
  /** Creates the topic or adds partitions; the partitions it has. @default ensureTopic */
  ensure?: typeof ensureTopic;
  respond(url: string, response: CustomResourceResponse): Promise<void>;
  logger: Logger;
}

/**
 * A custom resource that gives the stack its events topic: on create and update, the topic with
 * the asked partitions (added to, never removed) and retention, on the cluster's brokers (those
 * given, or an MSK cluster's, which CloudFormation does not return); it answers the brokers as
 * `Brokers` for the collector. Delete keeps the topic: its cluster goes with the stack, and an
 * existing cluster's records are not the stack's to drop.
 */
export function createKafkaTopicHandler(deps: KafkaTopicDeps) {
  return async (event: CloudFormationCustomResourceEvent): Promise<void> => {
    const props = event.ResourceProperties;
    const topic = String(props.Topic ?? '');
    const partitions = Number(props.Partitions);
    const retentionHours = Number(props.RetentionHours);
    const answer = (status: 'SUCCESS' | 'FAILED', reason?: string, data?: Record<string, string>) =>
      deps.respond(
        event.ResponseURL,
        customResourceResponse(event, topic || 'no-topic', status, reason, data),
      );
    if (event.RequestType === 'Delete') return answer('SUCCESS');
    if (!KAFKA_TOPIC_NAME.test(topic) || !Number.isInteger(partitions) || partitions < 1) {
      return answer(
        'FAILED',
        `the resource needs a Topic name and Partitions >= 1, got ${JSON.stringify({ topic, partitions: props.Partitions })}`,
      );
    }
    try {
      const brokers = props.Brokers
        ? String(props.Brokers)
        : await deps.bootstrapBrokers(String(props.ClusterArn ?? ''));
      const ensure = deps.ensure ?? ensureTopic;
      const count = await ensure(await deps.connect(brokers), topic, { partitions, retentionHours });
      deps.logger.info('kafka topic ready', { topic, partitions: count });
      return answer('SUCCESS', undefined, { Brokers: brokers, Partitions: String(count) });
    } catch (error) {
      return answer('FAILED', `cannot make Kafka topic ${topic}: ${(error as Error).message}`);
    }
  };
}

/** Lambda entry point (the custom resource's service token); auth as the collector's (`TALLY_KAFKA_AUTH`). */
export const handler = createKafkaTopicHandler({
  async bootstrapBrokers(clusterArn) {
    const answer = await new KafkaClient({}).send(new GetBootstrapBrokersCommand({ ClusterArn: clusterArn }));
    const brokers = answer.BootstrapBrokerStringSaslIam;
    if (!brokers) throw new Error(`cluster ${clusterArn} has no IAM bootstrap brokers`);
    return brokers;
  },
  async connect(brokers) {
    const env = await withSecrets({ ...process.env, TALLY_KAFKA_BROKERS: brokers });
    return readKafkaConnection(env, mskIamToken(env));
  },
  respond: putResponse,
  logger: lambdaLogger('kafka-topic'),
});
