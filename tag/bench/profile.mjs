// Where the tag's main-thread time goes, and A/B comparisons of tag builds.
//
//   node bench/profile.mjs [--runs 30] [--tag FILE ...] [--returning] [--attribute
//     [--between FROM:TO ...]] [--cpu-profile] [--playwright] [--settle MS]
//
// Each load is a fresh browser context on a bare page (as in bench.mjs): the documented
// snippet runs, the tag (FILE, default dist/tag.min.js) loads, asks a local node server for
// the decision (one toaster engagement), fires START, renders, fires OFFER_DISPLAY, and the
// next frame is painted. The page marks three moments with performance.mark (marks.mjs):
// the snippet starts, START fires, and the frame after OFFER_DISPLAY is done. Chromium's
// trace gives each mark the renderer main thread's CPU clock (`tts`), so the figures are
// main-thread CPU between two marks. An empty script loaded the same way is measured in
// every round and subtracted ("net"). Chromium is driven over a bare DevTools pipe
// (cdp.mjs); --playwright drives it through Playwright instead, whose Network and Runtime
// domains add their own cost (a stack trace per request a script starts).
//
// - Several --tag files are loaded in turn (A, B, A, B, ...); medians per file, and each
//   against the first as the median of the per-round differences ("paired"), which a
//   change in the machine's load between rounds does not move.
// - A copy of tag.js with more performance.mark('engage-<step>') calls is split by step:
//   the CPU between consecutive marks, median per step.
// - --returning: each load is a returning visitor's second page view (same context).
// - --attribute records the heavier trace categories (devtools.timeline, v8) and adds up,
//   between the marks given by --between (default snippet:START and START:painted), the
//   main thread's CPU time per kind of work (self time of each trace event, by name; script
//   evaluation and function calls split by what they ran). The categories slow the page
//   down, so use it for shares, not for the figures.
// - --cpu-profile samples JavaScript every 50 µs (CDP Profiler) and adds up the self time
//   per function over all loads (load tag.js rather than the minified build for names).
//   The sampler counts wall-clock time, so blocking calls look bigger than their CPU.

import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join, dirname, resolve, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from './cdp.mjs';
import { RUN_TAG, RUN_EMPTY, readMarks, markedLoad } from './marks.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const TAG_DIR = join(here, '..');
const argv = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const args = (name) => argv.flatMap((a, i) => (a === name ? [argv[i + 1]] : []));
const RUNS = +arg('--runs', 30);
const ATTRIBUTE = argv.includes('--attribute');
// --between FROM:TO (repeatable): the mark pairs --attribute splits (default snippet:START and START:painted)
const PAIRS = (args('--between').length ? args('--between') : ['snippet:START', 'START:painted']).map((p) => p.split(':'));
// --returning: each load is a returning visitor's second page view (ids in localStorage)
const RETURNING = argv.includes('--returning');
const CPU_PROFILE = argv.includes('--cpu-profile');
const SETTLE_MS = +arg('--settle', 100);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TAGS = (args('--tag').length ? args('--tag') : [join(TAG_DIR, 'dist', 'tag.min.js')]).map((f) => resolve(f));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export const ENGAGEMENT = {
  campaignId: 1, engagementId: 2, engagementRevision: 3, engagementType: 2, contextId: 'bench-ctx', zoneId: null,
  state: 1, confKey: '1_2_3', tglName: 'toaster', engagementName: 'Bench', timeoutSeconds: null,
  content: { title: 'Need help?', body: 'Chat with us.', acceptLabel: 'Chat now', closeLabel: 'Close' },
};

const routes = {
  '/blank': { type: 'text/html', body: '<!doctype html><html><head><meta charset="utf-8"><title>bench</title></head><body><h1>Shop</h1><p>A page.</p></body></html>' },
  '/api/account/1/decision': { type: 'application/json', body: JSON.stringify({ engagements: [ENGAGEMENT] }) },
  '/api/account/1/events': { type: 'application/json', body: '{"accepted":0,"duplicates":0,"rejected":[]}' },
  '/empty.js': { type: 'application/javascript', body: 'window.__empty = 1;' },
};
TAGS.forEach((f, i) => (routes[`/v${i}/tag/tag.js`] = { type: 'application/javascript; charset=utf-8', body: readFileSync(f, 'utf8') }));

const server = createServer((req, res) => {
  const r = routes[new URL(req.url, 'http://x').pathname];
  if (!r) {
    res.writeHead(404);
    return res.end();
  }
  res.writeHead(200, { 'content-type': r.type, 'cache-control': 'no-store', 'access-control-allow-origin': '*' });
  res.end(r.body);
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const origin = `http://127.0.0.1:${server.address().port}`;
const snippet = readFileSync(join(TAG_DIR, 'snippet.js'), 'utf8').replace('ACCOUNT_ID', '1');

// Driven through a bare DevTools connection by default (bench/cdp.mjs: no Network, Page or
// Runtime domain on, as in a visitor's browser); --playwright drives it like bench.mjs.
const PLAYWRIGHT = argv.includes('--playwright');
let browser;
let cdp;
if (PLAYWRIGHT) {
  const { chromium } = await import(join(TAG_DIR, 'node_modules', 'playwright-core', 'index.mjs'));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
} else {
  cdp = await launch(CHROMIUM);
}

const CATEGORIES = ATTRIBUTE
  ? ['blink.user_timing', 'devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'v8.execute', 'blink', 'loading', 'toplevel']
  : ['blink.user_timing'];

async function load(variant) {
  const [fn, arg] = variant < 0 ? [RUN_EMPTY, origin + '/empty.js'] : [RUN_TAG, snippet.replace('https://ENGAGE_HOST', `${origin}/v${variant}`)];
  let trace;
  let profile = null;
  if (PLAYWRIGHT) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(origin + '/blank');
    await browser.startTracing(page, { categories: CATEGORIES });
    await page.waitForTimeout(SETTLE_MS); // the renderer picks tracing up on its own time
    await page.evaluate(fn, arg);
    trace = JSON.parse((await browser.stopTracing()).toString()).traceEvents;
    await context.close();
  } else {
    const r = await markedLoad(cdp, origin + '/blank', fn, arg, {
      categories: CATEGORIES,
      settleMs: SETTLE_MS,
      returning: RETURNING,
      before: async (page) => {
        if (!CPU_PROFILE) return;
        await cdp.send('Profiler.enable', {}, page.sessionId);
        await cdp.send('Profiler.setSamplingInterval', { interval: 50 }, page.sessionId);
        await cdp.send('Profiler.start', {}, page.sessionId);
      },
      after: async (page) => (CPU_PROFILE ? (await cdp.send('Profiler.stop', {}, page.sessionId)).profile : null),
    });
    trace = r.trace;
    profile = r.extra;
  }
  return { trace, profile, ...readMarks(trace) };
}

// Self CPU time per kind of work on the main thread between two marks.
const KEEP = new Set(['EvaluateScript', 'v8.compile', 'FunctionCall', 'TimerFire', 'FireAnimationFrame', 'EventDispatch', 'ResourceReceiveResponse', 'ResourceFinish', 'XHRReadyStateChange', 'RunMicrotasks', 'V8.GC_SCAVENGER', 'MinorGC', 'MajorGC', 'UpdateLayoutTree', 'Layout', 'Paint', 'PrePaint', 'Layerize', 'UpdateLayer', 'CompositeLayers', 'Commit', 'ParseAuthorStyleSheet', 'HitTest', 'IntersectionObserverController::computeIntersections', 'v8.run', 'v8.callFunction', 'V8.ParseLazy', 'v8.parseOnBackground']);
function attribute(run, from, to, into) {
  const pid = run.marks.snippet.pid;
  const tid = run.marks.snippet.tid;
  const t0 = run.marks[from].tts;
  const t1 = run.marks[to].tts;
  // complete events (X) and B/E pairs of the main thread, with thread times
  const spans = [];
  const open = [];
  for (const e of run.trace) {
    if (e.pid !== pid || e.tid !== tid || e.tts === undefined) continue;
    if (e.ph === 'X' && e.tdur !== undefined) spans.push({ name: e.name, a: e.tts, b: e.tts + e.tdur, ts: e.ts, args: e.args });
    else if (e.ph === 'B') open.push({ name: e.name, a: e.tts, ts: e.ts, args: e.args });
    else if (e.ph === 'E') {
      const s = open.pop();
      if (s) spans.push({ ...s, b: e.tts });
    }
  }
  spans.sort((x, y) => x.a - y.a || y.b - x.b || x.ts - y.ts);
  // self time of each span inside [t0, t1], attributed to the innermost span; time in no
  // span is "other"
  const stack = [];
  const label = (s) => {
    const d = (s.args && (s.args.data || s.args)) || {};
    const url = d.url || d.fileName || (d.stackTrace && d.stackTrace[0] && d.stackTrace[0].url) || '';
    if (s.name === 'FunctionCall') return `FunctionCall ${d.functionName || '?'} ${basename(url.split('?')[0])}`;
    if (s.name === 'EvaluateScript' || s.name === 'v8.compile') return `${s.name} ${basename(url.split('?')[0])}`;
    return s.name;
  };
  const add = (k, v) => v > 0 && (into[k] = (into[k] || 0) + v / 1000);
  let cursor = t0;
  const clip = (x) => Math.min(Math.max(x, t0), t1);
  const advance = (to) => {
    const a = clip(cursor);
    const b = clip(to);
    if (b > a) add(stack.length ? label(stack[stack.length - 1]) : '(outside any trace event)', b - a);
    cursor = Math.max(cursor, to);
  };
  for (const s of spans) {
    while (stack.length && stack[stack.length - 1].b <= s.a) advance(stack.pop().b);
    advance(s.a);
    stack.push(s);
  }
  while (stack.length) advance(stack.pop().b);
  advance(t1);
}

function profileSelf(profile, into) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const dt = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const n = byId.get(profile.samples[i]);
    const f = n.callFrame;
    const k = `${f.functionName || '(anonymous)'} ${basename((f.url || '').split('?')[0])}${f.url ? ':' + (f.lineNumber + 1) : ''}`;
    into[k] = (into[k] || 0) + (dt[i + 1] || 0) / 1000;
  }
}

// ---- the run: the empty script and each tag in turn, after one warm-up each
const order = [-1, ...TAGS.map((_, i) => i)];
const results = new Map(order.map((v) => [v, { start: [], painted: [], attr: [{}, {}], prof: {}, phases: new Map() }]));
for (const v of order) await load(v);
for (let i = 0; i < RUNS; i++) {
  for (const v of order) {
    const r = await load(v);
    const acc = results.get(v);
    acc.start.push(r.start);
    acc.painted.push(r.painted);
    if (ATTRIBUTE) {
      PAIRS.forEach(([a, b], j) => r.marks[a] && r.marks[b] && attribute(r, a, b, (acc.attr[j] = acc.attr[j] || {})));
    }
    if (r.profile) profileSelf(r.profile, acc.prof);
    for (const [k, ms] of r.phases) acc.phases.set(k, (acc.phases.get(k) || []).concat(ms));
  }
  process.stderr.write('.');
}
process.stderr.write('\n');
if (browser) await browser.close();
if (cdp) await cdp.close();
server.close();

const name = (v) => (v < 0 ? 'empty script' : TAGS[v].replace(TAG_DIR + '/', ''));
const base = results.get(-1);
console.log(`${RUNS} loads each, alternating; main-thread CPU (ms), medians; "net" subtracts the empty script's`);
// Beside the medians, each file against the first one as the median of the per-round
// differences (the loads of one round run back to back, so a change in the machine's load
// between rounds cancels out).
const first = results.get(0);
const paired = (r, k) => median(r[k].map((x, i) => x - first[k][i]));
console.log('| script | snippet → START | net | Δ START vs first, paired | snippet → painted | net | Δ painted vs first, paired |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const v of order) {
  const r = results.get(v);
  const s = median(r.start);
  const p = median(r.painted);
  const d = (k) => (v > 0 ? paired(r, k).toFixed(2) : '');
  console.log(`| ${name(v)} | ${s.toFixed(2)} | ${(s - median(base.start)).toFixed(2)} | ${d('start')} | ${p.toFixed(2)} | ${(p - median(base.painted)).toFixed(2)} | ${d('painted')} |`);
}
const table = (title, obj, n) => {
  const rows = Object.entries(obj).sort((a, b) => b[1] - a[1]).slice(0, n);
  const total = Object.values(obj).reduce((a, b) => a + b, 0);
  console.log(`\n${title} (mean ms per load; total ${(total / RUNS).toFixed(2)} ms)`);
  for (const [k, ms] of rows) console.log(`${(ms / RUNS).toFixed(3).padStart(8)}  ${k}`);
};
for (const v of order) {
  const r = results.get(v);
  if (r.phases.size > 2) {
    console.log(`\n${name(v)}: CPU between consecutive marks (median ms)`);
    for (const [k, xs] of r.phases) console.log(`${median(xs).toFixed(3).padStart(8)}  ${k}${xs.length < RUNS ? ` (${xs.length} loads)` : ''}`);
  }
  if (ATTRIBUTE) {
    PAIRS.forEach(([a, b], j) => r.attr[j] && table(`${name(v)}: ${a} → ${b}, self time by trace event`, r.attr[j], 25));
  }
  if (CPU_PROFILE) table(`${name(v)}: JS sampling profile, self time by function (whole load)`, r.prof, 30);
}
