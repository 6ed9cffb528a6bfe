import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoDbClient } from '../../lambdas/aws.js';
import { ProjectQuotas, reportEvery } from '../../lib/ingest/quota.js';
import { DynamoDbQuotaCounter, QUOTA_ITEM_TTL_SECONDS } from '../../lib/ingest/quota-table.js';
import { type DynamoDbEmulator, startDynamoDb } from '../helpers/emulators.js';

let dynamo: DynamoDbEmulator;
let table: string;
beforeAll(async () => {
  dynamo = await startDynamoDb();
  table = await dynamo.table('tally-quotas');
});
afterAll(async () => {
  await dynamo?.stop();
});

describe('per-project quotas counted in DynamoDB (the AWS collectors)', () => {
  it('hold one project to its quota across collector instances while another project is admitted', async () => {
    const limit = 300;
    const limits = new Map([
      ['loud', limit],
      ['quiet', limit],
    ]);
    // Three collector instances, each with its own client, as three Lambda environments have.
    const instances = Array.from(
      { length: 3 },
      () => new ProjectQuotas(limits, new DynamoDbQuotaCounter(dynamoDbClient(dynamo.endpoint), table)),
    );
    const now = 1_780_000_000_000;
    const second = Math.floor(now / 1000);
    const flood = Array.from({ length: 1500 }, (_, i) => instances[i % 3]!.admit('loud', now + (i % 1000)));
    const quiet = Array.from({ length: 60 }, (_, i) => instances[i % 3]!.admit('quiet', now + i));
    const loud = (await Promise.all(flood)).filter(Boolean).length;
    expect(loud).toBeGreaterThanOrEqual(limit);
    expect(loud).toBeLessThanOrEqual(limit + 3 * (reportEvery(limit) - 1));
    expect(await Promise.all(quiet)).toEqual(quiet.map(() => true));
    // The shared count is in the table, with the expiry DynamoDB's TTL removes it by.
    const item = await dynamo.client.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: `loud#${second}` } }, ConsistentRead: true }),
    );
    expect(Number(item.Item?.used?.N)).toBeGreaterThan(limit);
    expect(Number(item.Item?.expiresAt?.N)).toBe(second + QUOTA_ITEM_TTL_SECONDS);
    // The next second starts afresh.
    expect(await instances[0]!.admit('loud', now + 1000)).toBe(true);
  });

  it('admit requests when the table cannot be reached, and report the failure', async () => {
    const errors: string[] = [];
    const missing = new DynamoDbQuotaCounter(dynamoDbClient(dynamo.endpoint), 'no-such-table');
    const quotas = new ProjectQuotas(new Map([['loud', 2]]), missing, {
      onCounterError: (e) => errors.push((e as Error).name),
    });
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await quotas.admit('loud', 1_780_000_000_000));
    expect(answers).toEqual([true, true, true, true, true]);
    expect(errors[0]).toBe('ResourceNotFoundException');
  });
});
