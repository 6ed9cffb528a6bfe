// Tally's dashboard: plain JavaScript, no build step. It reads the metrics API of the origin that
// served it with a project's read key, which stays in this tab (sessionStorage) and never in a URL
// the server sees: a link may carry it in the fragment (#project=...&key=...), which is removed.

const DAY_MS = 86_400_000;
const $ = (id) => document.getElementById(id);
const state = { project: '', key: '', from: '', to: '', days: 30, charts: [], latest: null, breakdown: null };

function keys() {
  try {
    return JSON.parse(sessionStorage.getItem('tally.keys') ?? '{}');
  } catch {
    return {};
  }
}

function remember(project, key) {
  const all = keys();
  all[project] = key;
  sessionStorage.setItem('tally.keys', JSON.stringify(all));
  sessionStorage.setItem('tally.project', project);
}

const utcDay = (ms) => new Date(ms).toISOString().slice(0, 10);
const dayMs = (day) => Date.parse(`${day}T00:00:00Z`);
const format = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US'));
const percent = (x) => `${(x * 100).toFixed(1)}%`;

function show(message) {
  const box = $('message');
  box.textContent = message;
  box.hidden = message === '';
}

async function api(path) {
  const response = await fetch(path, { headers: { authorization: `Bearer ${state.key}` } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const why = body?.error?.message ?? response.statusText;
    const hint =
      response.status === 401 || response.status === 403 ? ' Check the project and its read key.' : '';
    throw new Error(`${response.status} ${body?.error?.code ?? ''}: ${why}.${hint}`);
  }
  return body;
}

function activeUsers(from, to, by) {
  const p = encodeURIComponent(state.project);
  return api(`/v1/projects/${p}/active-users?from=${from}&to=${to}${by ? `&by=${by}` : ''}`);
}

function average(days, field) {
  return days.length === 0 ? 0 : days.reduce((n, d) => n + d[field], 0) / days.length;
}

function change(id, now, before) {
  const el = $(id);
  el.className = 'change';
  if (!before) {
    el.textContent = before === 0 && now > 0 ? 'new this period' : '';
    return;
  }
  const delta = (now - before) / before;
  el.textContent = `${delta >= 0 ? '▲' : '▼'} ${percent(Math.abs(delta))} vs previous period`;
  el.classList.add(delta >= 0 ? 'up' : 'down');
}

function color(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function chart(container, series, data) {
  container.replaceChildren();
  const width = Math.max(280, container.clientWidth);
  const height = container.classList.contains('small') ? 160 : 300;
  const axis = {
    stroke: color('--muted'),
    grid: { stroke: color('--line') },
    ticks: { stroke: color('--line') },
  };
  const plot = new uPlot(
    {
      width,
      height,
      // Every date on the page is a UTC day, the axis too.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      scales: { x: { time: true } },
      axes: [axis, axis],
      series: [{}, ...series.map((s) => ({ points: { show: false }, ...s }))],
      legend: { live: false },
    },
    data,
    container,
  );
  // A container holds one plot: the one it replaces is not resized any more.
  state.charts = state.charts.filter((c) => c.container !== container);
  state.charts.push({ plot, container });
}

/**
 * Fills a table's body with one row per array of cell texts; with no row and an `empty` text, one
 * row across every column saying it.
 */
function fillTable(id, rows, empty) {
  const table = $(id);
  const trs = rows.map((cells) => {
    const tr = document.createElement('tr');
    for (const text of cells) tr.insertCell().textContent = text;
    return tr;
  });
  if (trs.length === 0 && empty) {
    const tr = document.createElement('tr');
    const td = tr.insertCell();
    td.colSpan = table.tHead.rows[0].cells.length;
    td.textContent = empty;
    trs.push(tr);
  }
  table.tBodies[0].replaceChildren(...trs);
}

function renderDays(result, previous) {
  const days = result.days;
  const last = days[days.length - 1];
  $('latest-date').textContent = last
    ? `(${last.date}${result.freshness.live === last.date ? ', live' : ''})`
    : '';
  for (const field of ['dau', 'wau', 'mau']) $(field).textContent = format(last?.[field]);
  $('stickiness').textContent = last ? percent(last.stickiness) : '–';
  for (const field of ['dau', 'wau', 'mau', 'stickiness']) {
    change(`${field}-change`, average(days, field), previous ? average(previous.days, field) : null);
  }
  const rolled = result.freshness.rolledUpAt;
  $('freshness').textContent =
    `Numbers as of ${rolled ? `${rolled.replace('T', ' ').slice(0, 19)} UTC` : 'no rollup yet'}${
      result.freshness.live ? `; ${result.freshness.live} is counted live` : ''
    }.`;
  fillTable(
    'days',
    days.map((d) => [d.date, format(d.dau), format(d.wau), format(d.mau), percent(d.stickiness)]),
  );
  const x = days.map((d) => dayMs(d.date) / 1000);
  chart(
    $('chart'),
    [
      { label: 'DAU', stroke: color('--dau'), width: 2 },
      { label: 'WAU', stroke: color('--wau'), width: 2 },
      { label: 'MAU', stroke: color('--mau'), width: 2 },
    ],
    [x, days.map((d) => d.dau), days.map((d) => d.wau), days.map((d) => d.mau)],
  );
}

/** Distinct colours for up to 10 values and other, readable on light and dark backgrounds. */
const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#5fa2ce',
  '#8c8c8c',
];

let regions;
function label(by, value) {
  if (value === null) return 'Unknown';
  if (by === 'new_vs_returning') return value === 'new' ? 'New' : 'Returning';
  if (by === 'country') {
    regions ??= new Intl.DisplayNames(['en'], { type: 'region' });
    try {
      return `${regions.of(value)} (${value})`;
    } catch {
      return value;
    }
  }
  return value;
}

/** The breakdown's series: each top value, then other. */
function breakdownSeries(b) {
  const series = b.values.map((v) => ({ name: label(b.by, v.value), days: v.days }));
  if (b.other) series.push({ name: `Other (${format(b.other.values)} values)`, days: b.other.days });
  return series;
}

function renderBreakdown() {
  const b = state.breakdown;
  if (!b) return;
  const metric = $('metric').value;
  const stacked = $('style').value === 'stacked';
  const series = breakdownSeries(b);
  const last = series[0]?.days.length - 1;
  $('country-attribution').hidden = b.by !== 'country';
  const caption = $('by').selectedOptions[0].textContent;
  $('breakdown-caption').textContent = series.length
    ? `${caption}, ${series[0].days[last].date}`
    : `${caption}: no active users in this range`;
  const total = state.latest?.mau ?? 0;
  fillTable(
    'breakdown',
    series.map((s) => {
      const d = s.days[last];
      return [s.name, format(d.dau), format(d.wau), format(d.mau), total ? percent(d.mau / total) : '–'];
    }),
    'none',
  );
  const head = $('breakdown-days').tHead.rows[0];
  head.replaceChildren(
    ...['Date', ...series.map((s) => `${s.name} (${metric.toUpperCase()})`)].map((text) =>
      Object.assign(document.createElement('th'), { scope: 'col', textContent: text }),
    ),
  );
  const dates = series[0]?.days.map((d) => d.date) ?? [];
  fillTable(
    'breakdown-days',
    dates.map((date, i) => [date, ...series.map((s) => format(s.days[i][metric]))]),
  );
  // Stacked: each band sits on the ones before it (drawn from the top down, so each shows).
  const values = series.map((s) => s.days.map((d) => d[metric]));
  const lines = stacked
    ? values.map((_, i) => values[0].map((__, j) => values.slice(0, i + 1).reduce((n, v) => n + v[j], 0)))
    : values;
  const order = stacked ? [...series.keys()].reverse() : [...series.keys()];
  chart(
    $('breakdown-chart'),
    order.map((i) => ({
      label: series[i].name,
      stroke: PALETTE[i % PALETTE.length],
      width: stacked ? 1 : 2,
      ...(stacked ? { fill: PALETTE[i % PALETTE.length] } : {}),
    })),
    [dates.map((d) => dayMs(d) / 1000), ...order.map((i) => lines[i])],
  );
}

async function loadBreakdown() {
  try {
    const result = await activeUsers(state.from, state.to, $('by').value);
    state.breakdown = result.breakdown;
    renderBreakdown();
  } catch (error) {
    show(error.message);
  }
}

function renderHealth(h) {
  const total = h.eventsPerMinute.reduce((n, m) => n + m.events, 0);
  $('events-hour').textContent = `${format(total)} (${format(Math.round(total / 60))}/min)`;
  $('lake-lag').textContent = h.lake.lastBatchAt
    ? `${format(h.lake.lagSeconds)} s (${h.lake.lastBatchAt.slice(11, 19)} UTC)`
    : 'no batch in the last hour';
  const run = h.rollup.lastRun;
  $('last-rollup').textContent = run
    ? `${run.at.slice(11, 19)} UTC, ${format(run.durationMs)} ms, ${format(run.manifests)} batch(es)`
    : h.rollup.rolledUpAt
      ? `numbers last changed ${h.rollup.rolledUpAt.slice(0, 19).replace('T', ' ')} UTC`
      : 'none yet';
  const reasons = Object.entries(h.rejected).sort((a, b) => b[1] - a[1]);
  fillTable(
    'rejected',
    reasons.map(([reason, n]) => [reason, format(n)]),
    'none',
  );
  const bots = h.bots ?? [];
  const latest = bots.at(-1);
  $('bots-today').textContent = latest
    ? `${format(latest.events)} events from ${format(latest.ids)} ids`
    : '–';
  const people = state.latest?.dau ?? 0;
  $('bot-share').textContent =
    latest && latest.ids + people > 0 ? percent(latest.ids / (latest.ids + people)) : '–';
  fillTable(
    'bots',
    bots
      .filter((b) => b.events > 0)
      .reverse()
      .map((b) => [b.date, format(b.events), format(b.ids)]),
    'none',
  );
  chart(
    $('events-chart'),
    [{ label: 'events/min', stroke: color('--dau'), fill: `${color('--dau')}33`, width: 1 }],
    [
      h.eventsPerMinute.map((m) => Date.parse(`${m.minute}:00Z`) / 1000),
      h.eventsPerMinute.map((m) => m.events),
    ],
  );
}

async function load() {
  if (!state.project || !state.key) return;
  const main = $('main');
  main.dataset.state = 'loading';
  show('');
  state.charts = [];
  try {
    const span = Math.round((dayMs(state.to) - dayMs(state.from)) / DAY_MS) + 1;
    const before = utcDay(dayMs(state.from) - DAY_MS);
    const [result, previous, health] = await Promise.all([
      activeUsers(state.from, state.to, $('by').value),
      activeUsers(utcDay(dayMs(before) - (span - 1) * DAY_MS), before).catch(() => null),
      api(`/v1/projects/${encodeURIComponent(state.project)}/health`).catch(() => null),
    ]);
    state.latest = result.days.at(-1) ?? null;
    state.breakdown = result.breakdown;
    renderDays(result, previous);
    renderBreakdown();
    if (health) renderHealth(health);
    main.dataset.state = 'ready';
  } catch (error) {
    main.dataset.state = 'error';
    show(error.message);
  }
}

function setRange(days) {
  state.days = days;
  state.to = utcDay(Date.now());
  state.from = utcDay(Date.now() - (days - 1) * DAY_MS);
  $('from').value = state.from;
  $('to').value = state.to;
  for (const b of document.querySelectorAll('#ranges [data-days]')) {
    b.setAttribute('aria-pressed', String(Number(b.dataset.days) === days));
  }
}

function fillSwitcher() {
  const projects = Object.keys(keys());
  $('switcher-label').hidden = projects.length < 2;
  $('switcher').replaceChildren(
    ...projects.map((p) =>
      Object.assign(document.createElement('option'), {
        value: p,
        textContent: p,
        selected: p === state.project,
      }),
    ),
  );
}

function use(project, key) {
  state.project = project;
  state.key = key;
  remember(project, key);
  $('project').value = project;
  $('key').value = key;
  fillSwitcher();
  load();
}

function start() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get('project') && fragment.get('key')) {
    remember(fragment.get('project'), fragment.get('key'));
    history.replaceState(null, '', location.pathname);
  }
  setRange(30);
  $('access').addEventListener('submit', (e) => {
    e.preventDefault();
    use($('project').value.trim(), $('key').value.trim());
  });
  $('switcher').addEventListener('change', (e) => use(e.target.value, keys()[e.target.value] ?? ''));
  for (const b of document.querySelectorAll('#ranges [data-days]')) {
    b.addEventListener('click', () => {
      setRange(Number(b.dataset.days));
      load();
    });
  }
  $('custom').addEventListener('click', () => {
    if (!$('from').value || !$('to').value) return show('Choose both dates of the range.');
    state.from = $('from').value;
    state.to = $('to').value;
    for (const b of document.querySelectorAll('#ranges [data-days]')) b.setAttribute('aria-pressed', 'false');
    load();
  });
  $('by').addEventListener('change', loadBreakdown);
  for (const id of ['metric', 'style']) $(id).addEventListener('change', renderBreakdown);
  let resize;
  window.addEventListener('resize', () => {
    clearTimeout(resize);
    resize = setTimeout(() => {
      for (const { plot, container } of state.charts)
        plot.setSize({ width: Math.max(280, container.clientWidth), height: plot.height });
    }, 150);
  });
  const project = sessionStorage.getItem('tally.project');
  if (project && keys()[project]) use(project, keys()[project]);
  else fillSwitcher();
}

start();
