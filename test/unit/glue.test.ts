import type { GlueClient } from '@aws-sdk/client-glue';
import { describe, expect, it } from 'vitest';
import { EVENTS_SCHEMA } from '../../lib/lake/parquet.js';
import { GLUE_EVENT_COLUMNS, registerPartitions } from '../../lib/warehouse/glue.js';

function fakeGlue(errorsFor: (values: string[]) => string | undefined) {
  const inputs: unknown[] = [];
  const client = {
    async send(command: { input: { PartitionInputList: Array<{ Values: string[] }> } }) {
      inputs.push(command.input);
      const Errors = command.input.PartitionInputList.flatMap((p) => {
        const code = errorsFor(p.Values);
        return code
          ? [{ PartitionValues: p.Values, ErrorDetail: { ErrorCode: code, ErrorMessage: 'x' } }]
          : [];
      });
      return { Errors };
    },
  } as unknown as GlueClient;
  return { client, inputs };
}

const table = { database: 'tally_lake', table: 'events', bucket: 'lake-bucket' };

describe('registerPartitions', () => {
  it('registers project/dt partitions with their S3 location, in calls of at most 100', async () => {
    const { client, inputs } = fakeGlue(() => undefined);
    const days = Array.from({ length: 150 }, (_, i) => ({
      project: 'shop',
      dt: `2026-01-${String((i % 28) + 1).padStart(2, '0')}`,
    }));
    expect(await registerPartitions(client, table, days)).toBe(150);
    expect(inputs).toHaveLength(2);
    expect(inputs[0]).toMatchObject({
      DatabaseName: 'tally_lake',
      TableName: 'events',
      PartitionInputList: expect.arrayContaining([
        expect.objectContaining({
          Values: ['shop', '2026-01-01'],
          StorageDescriptor: expect.objectContaining({
            Location: 's3://lake-bucket/events/project=shop/dt=2026-01-01/',
          }),
        }),
      ]),
    });
  });

  it('treats partitions that exist as registered', async () => {
    const { client } = fakeGlue(() => 'AlreadyExistsException');
    await expect(registerPartitions(client, table, [{ project: 'shop', dt: '2026-01-01' }])).resolves.toBe(0);
  });

  it('fails on any other error, naming the partition', async () => {
    const { client } = fakeGlue((v) => (v[1] === '2026-01-02' ? 'AccessDeniedException' : undefined));
    const days = [
      { project: 'shop', dt: '2026-01-01' },
      { project: 'shop', dt: '2026-01-02' },
    ];
    await expect(registerPartitions(client, table, days)).rejects.toThrow(
      /shop\/2026-01-02: AccessDeniedException/,
    );
  });
});

describe('GLUE_EVENT_COLUMNS', () => {
  it('names every column of an events file, in file order, with the Hive type of its Arrow type', () => {
    const hive: Record<string, string> = {
      Utf8: 'string',
      Int64: 'bigint',
      Int32: 'int',
      Bool: 'boolean',
      Timestamp: 'timestamp',
    };

    const fromFile = EVENTS_SCHEMA.fields.map((f) => ({
      Name: f.name,
      Type: hive[String(f.type).replace(/<.*$/, '')],
    }));

    expect(GLUE_EVENT_COLUMNS).toEqual(fromFile);
  });
});
