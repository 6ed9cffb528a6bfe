import { parseArgs } from 'node:util';
import { formatReport, runChaos, violations } from './run.js';

/**
 * `npm run chaos [-- --events N --kill-every-ms MS --stream kafka ...]`: the full chaos run (not
 * part of `npm test`, which runs a short one on each stream). Exits 1 when an invariant was broken.
 */
const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    users: { type: 'string', default: '5000' },
    days: { type: 'string', default: '40' },
    batch: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '16' },
    'kill-every-ms': { type: 'string', default: '4000' },
    'bad-every': { type: 'string', default: '997' },
    'fault-scale': { type: 'string', default: '1.5' },
    'data-dir': { type: 'string' },
    stream: { type: 'string', default: 'kinesis' },
  },
});
if (values.stream !== 'kinesis' && values.stream !== 'kafka') {
  throw new Error(`--stream must be kinesis or kafka, got ${JSON.stringify(values.stream)}`);
}

function count(name: keyof typeof values): number {
  const text = String(values[name]);
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) {
    throw new Error(`--${name} must be a number of at least 0, got ${JSON.stringify(text)}`);
  }
  return value;
}

const scale = count('fault-scale');
const report = await runChaos({
  events: count('events'),
  users: count('users'),
  days: count('days'),
  batch: count('batch'),
  concurrency: count('concurrency'),
  killEveryMs: count('kill-every-ms'),
  badEvery: count('bad-every'),
  dataDir: values['data-dir'],
  stream: values.stream,
  rates: {
    putPartial: 0.02 * scale,
    putThrottle: 0.01 * scale,
    putLostAnswer: 0.01 * scale,
    storeError: 0.02 * scale,
    crashBeforeManifest: 0.05 * scale,
    redeliver: 0.1 * scale,
    superset: 0.1 * scale,
    rollupKill: 0.02 * scale,
    compactionKill: 0.02 * scale,
    compactEveryMs: 5_000,
  },
  log: (line) => console.log(line),
});
console.log(formatReport(report));
const broken = violations(report);
for (const v of broken) console.error(`BROKEN: ${v}`);
if (report.dataDir) console.error(`the data dir is kept for a look: ${report.dataDir}`);
if (broken.length === 0) console.log('every invariant held');
process.exitCode = broken.length === 0 ? 0 : 1;
