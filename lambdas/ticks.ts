/** A scheduled event as EventBridge sends it (only its time is read), or `{ "full": true }`. */
export interface Tick {
  time?: string;
  full?: boolean;
}

/** What a scheduled job is invoked with: a tick itself, or the schedule's queue's batch of ticks. */
export type TickEvent = Tick | { Records: Array<{ body?: string }> };

/**
 * The one run a job's invocation asks for. Ticks reach the job through a FIFO queue (one run at a
 * time), several at once when they piled up behind a long run: the run is at the latest tick's
 * time, and full when any tick asks for it. A body that is not a tick counts as a tick of now.
 */
export function tickOf(event: TickEvent | null | undefined): { now: Date; full: boolean } {
  const ticks: Tick[] =
    event && 'Records' in event && Array.isArray(event.Records)
      ? event.Records.map((r) => parseTick(r.body))
      : [event && typeof event === 'object' ? (event as Tick) : {}];
  let now: Date | null = null;
  for (const t of ticks) {
    const at = typeof t.time === 'string' ? new Date(t.time) : null;
    if (at && !Number.isNaN(at.getTime()) && (!now || at > now)) now = at;
  }
  return { now: now ?? new Date(), full: ticks.some((t) => t.full === true) };
}

function parseTick(body: string | undefined): Tick {
  try {
    const value = JSON.parse(body ?? '{}') as unknown;
    return value && typeof value === 'object' ? (value as Tick) : {};
  } catch {
    return {};
  }
}
