import { afterEach, describe, expect, it, vi } from 'vitest';
import { LambdaMetrics } from '../../lambdas/metrics-emf.js';
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
    const total = docs.find((d) => d._aws.CloudWatchMetrics[0]!.Dimensions[0]!.join() === 'service')!;
    expect(total).toMatchObject({ service: 'collect', EventsAccepted: 7, EventsRejected: 2 });
    expect(total._aws.CloudWatchMetrics[0]!.Namespace).toBe(METRIC_NAMESPACE);
    const perProject = docs.filter((d) => d.project === 'shop');
    expect(perProject.map((d) => d.EventsAccepted ?? d.EventsRejected).sort()).toEqual([2, 7]);
    for (const d of perProject)
      expect(d._aws.CloudWatchMetrics[0]!.Dimensions[0]).toEqual(['service', 'project']);
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

  it("beat once per finished run, under the job's service name", () => {
    const out = captureEmf();
    new LambdaMetrics('rollup').ran();
    expect(out.docs()).toEqual([expect.objectContaining({ service: 'rollup', RunsSucceeded: 1 })]);
  });
});
