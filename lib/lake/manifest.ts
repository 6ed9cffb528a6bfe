/** One Parquet file a batch wrote (an erasure's manifest names the partition it rewrote). */
export interface ManifestFile {
  key: string;
  project: string;
  dt: string;
  rows: number;
}

/** One bad-rows file a batch wrote. */
export interface ManifestBadFile {
  key: string;
  dt: string;
  rows: number;
}

/**
 * What one lake-writer batch wrote. Written after its data files, so a manifest always names
 * files that exist. It drives incremental rollups (which project/day changed) and the zero-loss
 * reconciliation (events in = rows out + bad rows).
 */
export interface Manifest {
  version: 1;
  batch: string;
  shardId: string;
  firstSequenceNumber: string;
  lastSequenceNumber: string;
  /** Arrival time of the batch's first record, ISO-8601. */
  arrivedAt: string;
  records: number;
  events: number;
  /** Rows with an event_id already seen earlier in the same batch (dropped from the files). */
  duplicatesInBatch: number;
  /** Rows left out because an erasure covers them (absent in manifests written before erasure existed). */
  erased?: number;
  files: ManifestFile[];
  bad: ManifestBadFile[];
  badReasons: Record<string, number>;
  /** Bad rows by project and reason (absent in manifests written before it existed). */
  badByProject?: Record<string, Record<string, number>>;
}

export function encodeManifest(manifest: Manifest): Uint8Array {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
}

export function decodeManifest(bytes: Uint8Array): Manifest {
  const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as Manifest;
  if (parsed.version !== 1 || !Array.isArray(parsed.files))
    throw new Error(`unsupported manifest version ${parsed.version}`);
  return parsed;
}
