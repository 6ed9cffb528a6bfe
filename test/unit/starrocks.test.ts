import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  catalogStatement,
  type SqlClient,
  type SqlValue,
  StarRocksWarehouse,
  sessionStatements,
} from '../../lib/warehouse/starrocks.js';
import { WarehouseError } from '../../lib/warehouse/warehouse.js';

/** Records every statement and answers from a queue of canned rows. */
class RecordingClient implements SqlClient {
  readonly statements: Array<{ sql: string; values: readonly SqlValue[] }> = [];
  constructor(private readonly answer: (sql: string) => Array<Record<string, unknown>> = () => []) {}
  async query(sql: string, values: readonly SqlValue[] = []) {
    this.statements.push({ sql, values });
    return this.answer(sql);
  }
}

const GOLDEN = join(import.meta.dirname, '..', 'golden', 'starrocks');

/** Compares with the reviewed file; `UPDATE_GOLDEN=1` rewrites it (then review the diff). */
function golden(
  name: string,
  statements: Array<{ sql: string; values: readonly SqlValue[] }> | string[],
): void {
  const text = `${statements
    .map((s) => (typeof s === 'string' ? `${s};` : `${s.sql};\n-- values: ${JSON.stringify(s.values)}`))
    .join('\n\n')}\n`;
  const path = join(GOLDEN, `${name}.sql`);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(path)) {
    if (process.env.CI) throw new Error(`golden file ${name}.sql is missing`);
    writeFileSync(path, text);
  }
  expect(text).toBe(readFileSync(path, 'utf8'));
}

describe('StarRocks engine: the statements it issues', () => {
  it('sets up the database and tables (setup.sql)', async () => {
    const client = new RecordingClient((sql) =>
      sql.includes('current_version') ? [{ version: '3.4.2' }] : [],
    );
    await new StarRocksWarehouse(client, { replicationNum: 1 }).setup();
    golden('setup', client.statements);
  });

  it('sets the session on every connection (session.sql)', () => {
    golden('session', sessionStatements({ timeoutSeconds: 900 }));
  });

  it('creates the external catalog on Glue or a Hive Metastore (catalog-*.sql)', () => {
    golden('catalog-glue', [catalogStatement('lake', { type: 'glue', region: 'eu-west-1' })]);
    golden('catalog-glue-role', [
      catalogStatement('lake', {
        type: 'glue',
        region: 'eu-west-1',
        iamRoleArn: 'arn:aws:iam::123456789012:role/starrocks-lake',
      }),
    ]);
    golden('catalog-hive-keys', [
      catalogStatement('lake', {
        type: 'hive',
        metastoreUris: 'thrift://metastore:9083',
        s3Endpoint: 'http://minio:9000',
        s3Keys: { accessKey: 'AKIAEXAMPLE', secretKey: 'wJalr/K7MDENG+bPxRfiCYEXAMPLEKEY=' },
      }),
    ]);
    golden('catalog-hive-ha', [
      catalogStatement('lake', {
        type: 'hive',
        metastoreUris: 'thrift://hms-1.internal:9083, thrift://hms-2.internal:9083',
      }),
    ]);
    golden('catalog-hive', [
      catalogStatement('lake', {
        type: 'hive',
        metastoreUris: 'thrift://metastore:9083',
        s3Endpoint: 'http://minio:9000',
        s3Region: 'us-east-1',
      }),
    ]);
  });

  it('refreshes changed days: new files of a day appended, a rewritten day read whole, day overwrite across projects, window upserts (refresh.sql)', async () => {
    // shop 03-29 was read before (one file) and has a new one; blog 03-30's file read before was
    // rewritten since, so that day is read whole.
    const client = new RecordingClient((sql) =>
      sql.includes('FROM tally.day_files')
        ? [
            {
              project: 'shop',
              dt: '2026-03-29',
              file: 'events/project=shop/dt=2026-03-29/s-1.parquet',
              version: 'a',
            },
            {
              project: 'blog',
              dt: '2026-03-30',
              file: 'events/project=blog/dt=2026-03-30/s-2.parquet',
              version: 'b',
            },
          ]
        : [],
    );
    const listing: Record<string, Array<{ key: string; version: string }>> = {
      'events/project=shop/dt=2026-03-29/': [
        { key: 'events/project=shop/dt=2026-03-29/s-1.parquet', version: 'a' },
        { key: 'events/project=shop/dt=2026-03-29/s-3.parquet', version: 'c' },
      ],
      'events/project=blog/dt=2026-03-30/': [
        { key: 'events/project=blog/dt=2026-03-30/s-2.parquet', version: 'b2' },
        { key: 'events/project=blog/dt=2026-03-30/s-4.parquet', version: 'd' },
      ],
    };
    const lake = {
      location: 's3://tally-lake-123/',
      storage: { type: 'glue', region: 'eu-west-1' } as const,
      list: async (prefix: string) => listing[prefix] ?? [],
    };
    const stats = await new StarRocksWarehouse(client, {}, lake).refresh(
      [
        { project: 'shop', dt: '2026-03-29' },
        { project: 'blog', dt: '2026-03-30' },
        { project: 'shop', dt: '2026-03-29' },
      ],
      '2026-03-31',
    );
    expect(stats).toEqual({ daysRecomputed: 2, windowsRecomputed: 5, filesRead: 3 });
    golden('refresh', client.statements);
  });

  it('refuses a lake location that is not a bucket, and a lake file a FILES() path would misread, naming them', async () => {
    const lake = (location: string, key: string) => ({
      location,
      storage: { type: 'glue', region: 'eu-west-1' } as const,
      list: async () => [{ key, version: '1' }],
    });
    const good = 'events/project=shop/dt=2026-03-29/s-1.parquet';
    expect(() => new StarRocksWarehouse(new RecordingClient(), {}, lake('s3://lake/events/', good))).toThrow(
      /lake location "s3:\/\/lake\/events\/" is not s3:\/\/<bucket>\//,
    );
    const refresh = (key: string) =>
      new StarRocksWarehouse(new RecordingClient(), {}, lake('s3://lake/', key)).refresh(
        [{ project: 'shop', dt: '2026-03-29' }],
        '2026-03-31',
      );
    await expect(refresh('events/project=shop/dt=2026-03-29/a,b.parquet')).rejects.toThrow(
      /lake file "events\/project=shop\/dt=2026-03-29\/a,b.parquet" is not events\/project=<id>\/dt=<day>\/<name>.parquet/,
    );
    await expect(refresh('events/project=shop/dt=2026-03-29/*.parquet')).rejects.toThrow(/lake file/);
    await expect(
      new StarRocksWarehouse(new RecordingClient()).refresh(
        [{ project: 'shop', dt: '2026-03-29' }],
        '2026-03-31',
      ),
    ).rejects.toThrow(/a StarRocks refresh reads the lake with FILES\(\)/);
  });

  it('reads stored days and computes today live (active-users.sql)', async () => {
    const client = new RecordingClient((sql) =>
      sql.includes('FROM tally.active_users')
        ? [{ dt: '2026-03-30', dau: 5, wau: 9, mau: 20 }]
        : sql.includes('SELECT CAST(x.dt AS VARCHAR)')
          ? [{ dt: '2026-03-29', dau: 0, wau: 3, mau: 11 }]
          : [{ n: 7 }],
    );
    const days = await new StarRocksWarehouse(client).activeUsers(
      'shop',
      '2026-03-29',
      '2026-04-02',
      '2026-03-31',
    );
    expect(days).toEqual([
      { dt: '2026-03-29', dau: 0, wau: 3, mau: 11 },
      { dt: '2026-03-30', dau: 5, wau: 9, mau: 20 },
      { dt: '2026-03-31', dau: 7, wau: 7, mau: 7 },
    ]);
    golden('active-users', client.statements);
  });

  it('breaks active users down from the bitmaps per value, today live (breakdown.sql)', async () => {
    // One statement answers the ranks (n = 0) and the windows of the values shown.
    const client = new RecordingClient((sql) =>
      sql.startsWith('WITH')
        ? [
            { n: 0, dt: null, v: 'ios', persons: 4 },
            { n: 0, dt: null, v: 'web', persons: 9 },
            { n: 0, dt: null, v: '', persons: 4 },
            { n: 1, dt: '2026-03-31', v: 'web', persons: 2 },
            { n: 7, dt: '2026-03-31', v: 'web', persons: 5 },
            { n: 30, dt: '2026-03-31', v: 'web', persons: 9 },
            { n: 30, dt: '2026-03-31', v: null, persons: 6 },
          ]
        : [],
    );
    const warehouse = new StarRocksWarehouse(client);
    const range = { from: '2026-03-31', to: '2026-03-31', today: '2026-03-31' };
    const byPlatform = await warehouse.breakdown('shop', 'platform', range, 2);
    await warehouse.breakdown('shop', 'new_vs_returning', range, 10);
    expect(byPlatform).toEqual({
      by: 'platform',
      values: [
        { value: 'web', days: [{ dt: '2026-03-31', dau: 2, wau: 5, mau: 9 }] },
        { value: null, days: [{ dt: '2026-03-31', dau: 0, wau: 0, mau: 0 }] },
      ],
      other: { values: 1, days: [{ dt: '2026-03-31', dau: 0, wau: 0, mau: 6 }] },
    });
    golden('breakdown', client.statements);
  });

  it('keeps the rollup watermark in a table (manifests.sql)', async () => {
    const client = new RecordingClient(() => [{ manifest_key: 'manifests/2026-03-31/10/a.json' }]);
    const warehouse = new StarRocksWarehouse(client);
    const done = await warehouse.processedManifests('manifests/2026-03-31/');
    await warehouse.markProcessed(['manifests/2026-03-31/11/b.json', 'manifests/2026-03-31/11/c.json']);
    await warehouse.recordRollup(new Date('2026-03-31T10:05:00Z'));
    await warehouse.lastRollup();
    expect(done).toEqual(new Set(['manifests/2026-03-31/10/a.json']));
    golden('manifests', client.statements);
  });
});

describe('StarRocks engine: what it refuses', () => {
  it('refuses identifiers outside the allow-list pattern', () => {
    expect(() => new StarRocksWarehouse(new RecordingClient(), { database: 'tally; DROP' })).toThrow(
      WarehouseError,
    );
    expect(() => catalogStatement('lake"x', { type: 'glue', region: 'eu-west-1' })).toThrow(
      /not a plain identifier/,
    );
    expect(() => catalogStatement('lake', { type: 'glue', region: 'eu-west-1" , "x' })).toThrow(
      /unexpected characters/,
    );
    for (const [uris, bad] of [
      ['thrift://hms-1:9083,http://hms-2:9083', 'http://hms-2:9083'],
      ['thrift://hms-1:9083,', ''],
      ['thrift://hms-1:9083,thrift://hms-2:99999', 'thrift://hms-2:99999'],
      ['thrift://hms-1:9083", "x" = "y', 'thrift://hms-1:9083"'],
      ['thrift://hms 1:9083', 'thrift://hms 1:9083'],
    ]) {
      expect(() => catalogStatement('lake', { type: 'hive', metastoreUris: uris! }), uris).toThrow(
        `metastore URI ${JSON.stringify(bad)} is not thrift://<host>:<port>`,
      );
    }
  });

  it('refuses a project id or date that is not one, before any statement', async () => {
    const client = new RecordingClient();
    const warehouse = new StarRocksWarehouse(client);
    await expect(
      warehouse.refresh([{ project: "x' OR 1=1", dt: '2026-03-01' }], '2026-03-31'),
    ).rejects.toThrow(/not a project id/);
    await expect(warehouse.activeUsers('shop', '2026-02-30', '2026-03-01', '2026-03-31')).rejects.toThrow(
      /not a date/,
    );
    expect(client.statements).toEqual([]);
  });

  it('refuses values that mysql2 would expand into SQL', async () => {
    const client = new RecordingClient();
    const warehouse = new StarRocksWarehouse(client);
    await expect(warehouse.markProcessed([['a', 'b'] as unknown as string])).rejects.toThrow(
      /not a string or number/,
    );
    expect(client.statements).toEqual([]);
  });

  it('says where analyst SQL runs instead of running it', async () => {
    await expect(new StarRocksWarehouse(new RecordingClient()).query()).rejects.toThrow(/MySQL client/);
  });
});
