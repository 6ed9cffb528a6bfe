import { type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { QuotaCounter } from './quota.js';

/** How long a second's count is kept (DynamoDB's TTL removes it some time after this). */
export const QUOTA_ITEM_TTL_SECONDS = 120;

/**
 * The shared count on AWS: one DynamoDB item per project and second (`pk` = `<project>#<second>`),
 * raised with an atomic `ADD` that answers the new total; items expire by TTL. The client is
 * made by the caller, once per process.
 */
export class DynamoDbQuotaCounter implements QuotaCounter {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  async add(project: string, second: number, n: number): Promise<number> {
    const out = await this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: { pk: { S: `${project}#${second}` } },
        UpdateExpression: 'ADD used :n SET expiresAt = if_not_exists(expiresAt, :expires)',
        ExpressionAttributeValues: {
          ':n': { N: String(n) },
          ':expires': { N: String(second + QUOTA_ITEM_TTL_SECONDS) },
        },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const used = Number(out.Attributes?.used?.N);
    if (!Number.isFinite(used)) throw new Error(`the quota table answered no count for ${project}`);
    return used;
  }
}
