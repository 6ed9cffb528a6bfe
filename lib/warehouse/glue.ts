import { BatchCreatePartitionCommand, type GlueClient } from '@aws-sdk/client-glue';
import type { ObjectStore } from '../lake/store.js';
import { dayKey, type ProjectDay } from './days.js';
import { WarehouseError } from './warehouse.js';

/** The events table's columns in Glue (Hive types), in file order; `project` and `dt` are partition keys. */
export const GLUE_EVENT_COLUMNS = [
  { Name: 'event_id', Type: 'string' },
  { Name: 'type', Type: 'string' },
  { Name: 'event', Type: 'string' },
  { Name: 'user_hash', Type: 'bigint' },
  { Name: 'anonymous_hash', Type: 'bigint' },
  { Name: 'event_time', Type: 'timestamp' },
  { Name: 'received_at', Type: 'timestamp' },
  { Name: 'properties', Type: 'string' },
  { Name: 'context', Type: 'string' },
  { Name: 'key_version', Type: 'int' },
  { Name: 'flags', Type: 'string' },
  { Name: 'channel', Type: 'string' },
  { Name: 'previous_user_hash', Type: 'bigint' },
  { Name: 'previous_anonymous_hash', Type: 'bigint' },
  { Name: 'country', Type: 'string' },
  { Name: 'platform', Type: 'string' },
  { Name: 'os', Type: 'string' },
  { Name: 'browser', Type: 'string' },
  { Name: 'device_type', Type: 'string' },
  { Name: 'app_version', Type: 'string' },
  { Name: 'library', Type: 'string' },
  { Name: 'utm_source', Type: 'string' },
  { Name: 'utm_medium', Type: 'string' },
  { Name: 'utm_campaign', Type: 'string' },
  { Name: 'referrer_domain', Type: 'string' },
  { Name: 'bot', Type: 'boolean' },
];

export const PARQUET_STORAGE = {
  InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
  OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
  SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
};

export interface GlueTable {
  database: string;
  table: string;
  /** The lake bucket. */
  bucket: string;
}

/**
 * Registers `project=/dt=` partitions in the Glue table (StarRocks before 4.1 reads no
 * projected partitions, so they must exist in the metastore). Idempotent: partitions that exist
 * already are fine; any other error fails the run so the rollup is retried.
 */
export async function registerPartitions(
  client: GlueClient,
  table: GlueTable,
  days: readonly ProjectDay[],
): Promise<number> {
  let created = 0;
  for (let i = 0; i < days.length; i += 100) {
    const chunk = days.slice(i, i + 100);
    const out = await client.send(
      new BatchCreatePartitionCommand({
        DatabaseName: table.database,
        TableName: table.table,
        PartitionInputList: chunk.map((d) => ({
          Values: [d.project, d.dt],
          StorageDescriptor: {
            Columns: GLUE_EVENT_COLUMNS,
            Location: `s3://${table.bucket}/events/project=${d.project}/dt=${d.dt}/`,
            ...PARQUET_STORAGE,
          },
        })),
      }),
    );
    const errors = (out.Errors ?? []).filter((e) => e.ErrorDetail?.ErrorCode !== 'AlreadyExistsException');
    if (errors.length > 0) {
      const first = errors[0]!;
      throw new WarehouseError(
        'partition_registration_failed',
        `${errors.length} partition(s) not registered, e.g. ${first.PartitionValues?.join('/')}: ${first.ErrorDetail?.ErrorCode} ${first.ErrorDetail?.ErrorMessage ?? ''}`,
      );
    }
    created += chunk.length - (out.Errors?.length ?? 0);
  }
  return created;
}

/**
 * A registrar that passes on only the partitions this process has not registered yet: the lake
 * writer calls it on every batch, and most batches write to partitions that exist already.
 */
export function onlyNewPartitions(
  register: (days: readonly ProjectDay[]) => Promise<unknown>,
): (days: readonly ProjectDay[]) => Promise<void> {
  const known = new Set<string>();
  return async (days) => {
    const fresh = days.filter((d) => !known.has(dayKey(d)));
    if (fresh.length === 0) return;
    await register(fresh);
    for (const d of fresh) known.add(dayKey(d));
  };
}

const EVENTS_PARTITION = /^events\/project=([a-z0-9][a-z0-9-]{0,62})\/dt=(\d{4}-\d{2}-\d{2})\//;

/**
 * Every `project=/dt=` partition the lake holds, from its object keys: what a backfill registers
 * in Glue (a lake written before the lake writer registered partitions, or by a stack without
 * Glue), so Athena and StarRocks see every day.
 */
export async function lakePartitions(store: ObjectStore): Promise<ProjectDay[]> {
  const seen = new Map<string, ProjectDay>();
  for (const key of await store.list('events/')) {
    const match = EVENTS_PARTITION.exec(key);
    if (match) seen.set(`${match[1]}/${match[2]}`, { project: match[1]!, dt: match[2]! });
  }
  return [...seen.values()].sort((a, b) => a.project.localeCompare(b.project) || a.dt.localeCompare(b.dt));
}
