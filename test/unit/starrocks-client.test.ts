import type { Pool } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { mysqlClient } from '../../lambdas/starrocks.js';

/** A pool of one connection that records what it is sent and answers the version query. */
function fakePool(version: string): { pool: Pool; sent: string[] } {
  const sent: string[] = [];
  const connection = {
    connection: {},
    async query(sql: string) {
      sent.push(sql);
      return [sql.includes('current_version') ? [{ version }] : [{ n: 1 }], []];
    },
    release() {},
  };
  return { pool: { getConnection: async () => connection } as unknown as Pool, sent };
}

describe('the StarRocks client of the Lambdas', () => {
  it('checks the version and sets the session once per connection, before the first statement', async () => {
    const { pool, sent } = fakePool('3.4.2-a1b2c3');
    const client = mysqlClient(pool, ["SET time_zone = '+00:00'"]);

    await client.query('SELECT 1');
    await client.query('SELECT 2');

    expect(sent).toEqual([
      'SELECT current_version() AS version',
      "SET time_zone = '+00:00'",
      'SELECT 1',
      'SELECT 2',
    ]);
  });

  it('refuses every statement on a cluster older than 3.4, naming its version', async () => {
    const { pool, sent } = fakePool('3.3.9-a1b2c3');
    const client = mysqlClient(pool, []);

    await expect(client.query('SELECT 1')).rejects.toThrow(/StarRocks "3\.3\.9-a1b2c3" is older than 3\.4/);
    await expect(client.query('SELECT 1')).rejects.toThrow(/older than 3\.4/);
    expect(sent).not.toContain('SELECT 1');
  });
});
