import { afterEach, describe, expect, it, vi } from 'vitest';
import { IntervalMetrics, LambdaMetrics } from '../../lambdas/metrics-emf.js';
import { collectCount, METRIC_NAMESPACE } from '../../lib/metrics.js';

/** The embedded-metric-format documents a function printed (what CloudWatch turns into metrics). */
function captureEmf(): { docs: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const keep = (chunk: unknown) => {
    for (const line of String(chunk).split('\n')) if (line.includes('"_aws"')) lines.push(line);
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(keep as never);
  for (const level of ['log', 'info'] as const) vi.spyOn(console, level).mockImplementation(keep as never);
  return { docs: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

afterEach(() => {
  vi.restoreAllMocks();
});

type Emf = {
  _aws: {
    CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }>;
  };
  [key: string]: unknown;
};

describe("the functions' own metrics (CloudWatch embedded metric format)", () => {
  it('count a request: events accepted and refused, in total and per project', () => {
    const out = captureEmf();
    const metrics = new LambdaMetrics('collect');
    metrics.collected(
      collectCount({ project: 'shop', accepted: 7, rejected: 2 }, { status: 200, body: { success: true } }),
    );
    const docs = out.docs() as Emf[];
    // One document per request, one line on the hot path.
    expect(docs).toHaveLength(1);
    const doc = docs[0]!;
    expect(doc).toMatchObject({ service: 'collect', project: 'shop', EventsAccepted: 7, EventsRejected: 2 });
    const [directive] = doc._aws.CloudWatchMetrics;
    expect(directive!.Namespace).toBe(METRIC_NAMESPACE);
    // Counted in total (service) and per project (service, project).
    expect(directive!.Dimensions).toEqual([['service'], ['service', 'project']]);
    expect(directive!.Metrics.map((m) => m.Name).sort()).toEqual(['EventsAccepted', 'EventsRejected']);
  });

  it('write nothing for a request with nothing to count, and carry no project into the next', () => {
    const out = captureEmf();
    const metrics = new LambdaMetrics('collect');
    metrics.collected(collectCount({ project: 'shop', accepted: 0, rejected: 0 }, { status: 200, body: {} }));
    expect(out.docs()).toEqual([]);
    metrics.collected(collectCount({ project: null, accepted: 0, rejected: 0 }, { status: 401, body: {} }));
    const [doc] = out.docs() as Emf[];
    expect(doc).not.toHaveProperty('project');
    expect(doc!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['service']]);
  });

  it('count a request the stream refused as StreamUnavailable, and any 4xx/5xx as refused', () => {
    const out = captureEmf();
    const metrics = new LambdaMetrics('collect');
    metrics.collected(
      collectCount(
        { project: 'shop', accepted: 0, rejected: 0 },
        { status: 503, body: { error: { code: 'stream_unavailable', message: 'x' } } },
      ),
    );
    metrics.collected(collectCount({ project: null, accepted: 0, rejected: 0 }, { status: 401, body: {} }));
    const docs = out.docs();
    expect(docs).toContainEqual(expect.objectContaining({ StreamUnavailable: 1, RequestsRefused: 1 }));
    expect(docs.filter((d) => d.RequestsRefused === 1)).toHaveLength(2);
    expect(docs.filter((d) => 'StreamUnavailable' in d)).toHaveLength(1);
  });

  it('count the produces a Kafka broker throttled under the service alone, never a project', () => {
    const out = captureEmf();
    const metrics = new LambdaMetrics('collect');
    metrics.throttled(3);
    const [doc] = out.docs() as Emf[];
    expect(doc).toMatchObject({ service: 'collect', StreamThrottled: 3 });
    expect(doc).not.toHaveProperty('project');
    expect(doc!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['service']]);

    const interval = new IntervalMetrics('collect');
    interval.collected(
      collectCount({ project: 'shop', accepted: 1, rejected: 0 }, { status: 200, body: { success: true } }),
    );
    interval.throttled(1);
    interval.throttled(1);
    interval.flush();
    const [total, shop] = out.docs().slice(1) as Emf[];
    expect(total).toMatchObject({ EventsAccepted: 1, StreamThrottled: 2 });
    expect(shop).toMatchObject({ project: 'shop', EventsAccepted: 1 });
    expect(shop).not.toHaveProperty('StreamThrottled');
  });

  it("beat once per finished run, under the job's service name", () => {
    const out = captureEmf();
    new LambdaMetrics('rollup').ran();
    expect(out.docs()).toEqual([expect.objectContaining({ service: 'rollup', RunsSucceeded: 1 })]);
  });
});

describe("a long-lived server's metrics (one document an interval)", () => {
  it('sum the interval: totals under the service alone, each project under service and project', () => {
    const out = captureEmf();
    const metrics = new IntervalMetrics('collect');
    const ok = { status: 200, body: { success: true } };
    metrics.collected(collectCount({ project: 'shop', accepted: 7, rejected: 2 }, ok));
    metrics.collected(collectCount({ project: 'shop', accepted: 3, rejected: 0 }, ok));
    metrics.collected(collectCount({ project: 'blog', accepted: 1, rejected: 0 }, ok));
    metrics.collected(
      collectCount(
        { project: 'blog', accepted: 0, rejected: 0 },
        { status: 429, body: { error: { code: 'quota_exceeded', message: 'x' } } },
      ),
    );
    metrics.collected(collectCount({ project: null, accepted: 0, rejected: 0 }, { status: 401, body: {} }));
    expect(out.docs()).toEqual([]);
    const answers = metrics.flush();
    const docs = out.docs() as Emf[];
    expect(docs).toHaveLength(3);
    const dims = docs.map((d) => d._aws.CloudWatchMetrics[0]!.Dimensions);
    expect(dims).toEqual([[['service']], [['service', 'project']], [['service', 'project']]]);
    expect(docs[0]).toMatchObject({
      EventsAccepted: 11,
      EventsRejected: 2,
      RequestsRefused: 2,
      RequestsOverQuota: 1,
    });
    expect(docs[0]).not.toHaveProperty('project');
    expect(docs[1]).toMatchObject({ project: 'shop', EventsAccepted: 10, EventsRejected: 2 });
    expect(docs[2]).toMatchObject({
      project: 'blog',
      EventsAccepted: 1,
      RequestsRefused: 1,
      RequestsOverQuota: 1,
    });
    expect(answers).toEqual({ '200': 3, '429 quota_exceeded': 1, '401': 1 });
    // The next interval starts from nothing, and an empty one writes nothing.
    expect(metrics.flush()).toEqual({});
    expect(out.docs()).toHaveLength(3);
  });
});
