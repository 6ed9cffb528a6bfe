import { TallyError } from '../errors.js';

/** One record to put on the stream. */
export interface PutEntry {
  data: Uint8Array;
  partitionKey: string;
}

/** The outcome of one entry of a PutRecords call, in the order of the entries. */
export interface PutOutcome {
  /** Set when the stream refused this entry (e.g. `ProvisionedThroughputExceededException`). */
  errorCode?: string;
  /** Where the stream stored an accepted entry (Kinesis returns both). */
  shardId?: string;
  sequenceNumber?: string;
}

/**
 * The small interface the collector writes through. `putRecords` may throw when the whole call
 * failed (network, timeout); otherwise it reports each entry, as Kinesis PutRecords does.
 */
export interface StreamWriter {
  /** Puts the entries; `signal` abandons the call (a stop that must not wait on the stream). */
  putRecords(entries: readonly PutEntry[], signal?: AbortSignal): Promise<PutOutcome[]>;
}

export interface RetryPolicy {
  /** Calls per entry, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Six calls over at most ~2.5 s of backoff: well inside API Gateway's 30 s. */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 50, maxDelayMs: 1000 };
/** Kinesis PutRecords limits. */
export const MAX_ENTRIES_PER_CALL = 500;
export const MAX_BYTES_PER_CALL = 5 * 1024 * 1024;
/** What clients are told to wait when the stream could not take their events. */
export const RETRY_AFTER_SECONDS = 5;

/** The stream did not accept every entry within the retry budget; nothing may be acknowledged. */
export class StreamUnavailableError extends TallyError {
  readonly failedEntries: number;
  readonly lastErrorCode: string;
  constructor(failedEntries: number, lastErrorCode: string) {
    super(
      'stream_unavailable',
      `the stream refused ${failedEntries} record(s) after every retry (last error ${lastErrorCode})`,
    );
    this.failedEntries = failedEntries;
    this.lastErrorCode = lastErrorCode;
  }
}

export interface PutOptions {
  policy?: RetryPolicy;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Splits entries into PutRecords calls within the count and size limits. */
export function planCalls(entries: readonly PutEntry[]): PutEntry[][] {
  const calls: PutEntry[][] = [];
  let call: PutEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = entry.data.length + Buffer.byteLength(entry.partitionKey);
    if (call.length > 0 && (call.length === MAX_ENTRIES_PER_CALL || bytes + size > MAX_BYTES_PER_CALL)) {
      calls.push(call);
      call = [];
      bytes = 0;
    }
    call.push(entry);
    bytes += size;
  }
  if (call.length > 0) calls.push(call);
  return calls;
}

/**
 * Puts every entry, retrying only the entries that failed, with capped exponential backoff and
 * full jitter. A call that throws counts as all its entries failed: the stream may still have
 * taken them, which makes duplicates that the warehouse removes by event_id, never losses.
 * Throws StreamUnavailableError when the budget is spent with entries still unwritten.
 */
export async function putAll(
  writer: StreamWriter,
  entries: readonly PutEntry[],
  options: PutOptions = {},
): Promise<void> {
  const policy = options.policy ?? DEFAULT_RETRY;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  let pending = [...entries];
  let lastError = 'none';
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt >= policy.maxAttempts) throw new StreamUnavailableError(pending.length, lastError);
    if (attempt > 0) {
      const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      await sleep(Math.floor(random() * cap));
    }
    const failed: PutEntry[] = [];
    for (const call of planCalls(pending)) {
      try {
        const outcomes = await writer.putRecords(call);
        call.forEach((entry, i) => {
          const code = outcomes[i]?.errorCode;
          if (code !== undefined || outcomes[i] === undefined) {
            failed.push(entry);
            lastError = code ?? 'missing_result';
          }
        });
      } catch (error) {
        failed.push(...call);
        lastError = (error as { name?: string }).name ?? 'Error';
      }
    }
    pending = failed;
  }
}
