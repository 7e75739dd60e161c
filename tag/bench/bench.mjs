// Size and speed of the tag, side by side with other trackers.
//
//   node bench/bench.mjs [--runs 9] [--keep DIR]
//
// Size: bytes of what a page loads, minified and gzipped (level 9). For our tag that is
// dist/tag.min.js, exactly what `GET /tag/tag.js` serves. For the others, installed from npm
// into a temporary directory (never into tag/package.json): each one's minimal page
// integration (init + one page view) bundled and minified by esbuild, lazy chunks
// included, plus, where the package ships one, its prebuilt browser file (what its CDN
// snippet loads first).
//
// Speed, in Chromium (/usr/bin/chromium), as main-thread CPU time (CDP ThreadTime, so that
// other processes on the machine do not inflate it), median of --runs fresh browser
// contexts (first visits) after one warm-up, minus the same measurement for an empty script:
// - ours: from running the documented snippet to the first engagement in the DOM (START,
//   then OFFER_DISPLAY) and the next frame. The page, the tag (dist/tag.min.js) and a fixed
//   decision answer come from a local node server, so the figure is the tag's work, not
//   the network's or the server's;
// - every tracker (ours too): loading its script as an async script element, to its load
//   event and the next frame: compile, evaluation and whatever it does synchronously.
//
// And for ours, the issue's measure, from marks the page sets (bench/marks.mjs): main-thread
// CPU from the snippet's start to LP_OFFERS START, and to the frame after OFFER_DISPLAY,
// read from Chromium's trace (each performance.mark carries the main thread's CPU clock).
// That browser is driven over a bare DevTools pipe (bench/cdp.mjs), without the Network,
// Page and Runtime domains Playwright switches on (with them, Chromium captures a stack
// trace for every request a script starts: 2-3 ms on the tag's first one, which no
// visitor's browser pays). Loads alternate with an empty script added the same way (to
// its load event, and to the next frame), which is subtracted: what any async script
// costs to insert, fetch and run, which the tag cannot change. Both for a first visit
// and for a returning visitor's second page view (same context: ids in localStorage).

import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants } from 'node:zlib';
import { launch } from './cdp.mjs';
import { RUN_TAG, RUN_EMPTY, markedLoad } from './marks.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const TAG_DIR = join(here, '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const RUNS = +arg('--runs', 9);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const gz = (buf) => gzipSync(buf, { level: constants.Z_BEST_COMPRESSION }).length;
const kb = (n) => (n / 1024).toFixed(1);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// ---- the others, installed for this run only
const COMPETITORS = [
  {
    name: 'posthog-js',
    pkg: 'posthog-js',
    entry: `import posthog from 'posthog-js'; posthog.init('phc_bench', {api_host: location.origin}); posthog.capture('$pageview');`,
    prebuilt: 'posthog-js/dist/array.js',
  },
  {
    name: '@snowplow/browser-tracker',
    pkg: '@snowplow/browser-tracker',
    entry: `import {newTracker, trackPageView} from '@snowplow/browser-tracker'; newTracker('sp', location.origin, {appId: 'bench'}); trackPageView();`,
    prebuilt: '@snowplow/browser-tracker/dist/index.umd.min.js',
  },
  {
    name: '@segment/analytics-next',
    pkg: '@segment/analytics-next',
    entry: `import {AnalyticsBrowser} from '@segment/analytics-next'; const a = AnalyticsBrowser.load({writeKey: 'bench'}); a.page();`,
    prebuilt: '@segment/analytics-next/dist/umd/standalone.js',
  },
  {
    name: '@rudderstack/analytics-js',
    pkg: '@rudderstack/analytics-js',
    entry: `import {RudderAnalytics} from '@rudderstack/analytics-js'; const r = new RudderAnalytics(); r.load('bench', location.origin); r.page();`,
    prebuilt: null,
  },
];

function install(dir) {
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'engage-tag-bench', private: true, type: 'module' }));
  const pkgs = COMPETITORS.map((c) => c.pkg).concat('esbuild');
  console.error(`installing ${pkgs.join(', ')} into ${dir} ...`);
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...pkgs], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  for (const c of COMPETITORS) {
    c.version = JSON.parse(readFileSync(join(dir, 'node_modules', c.pkg, 'package.json'), 'utf8')).version;
  }
}

async function bundle(dir, c) {
  const esbuild = await import(join(dir, 'node_modules', 'esbuild', 'lib', 'main.js'));
  const entry = join(dir, c.name.replace(/[@/]/g, '_') + '.entry.js');
  writeFileSync(entry, c.entry);
  const out = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2020',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  return Buffer.from(out.outputFiles[0].contents);
}

// ---- Chromium
async function browserOf() {
  const { chromium } = await import(join(TAG_DIR, 'node_modules', 'playwright-core', 'index.mjs'));
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}

const ENGAGEMENT = {
  campaignId: 1, engagementId: 2, engagementRevision: 3, engagementType: 2, contextId: 'bench-ctx', zoneId: null,
  state: 1, confKey: '1_2_3', tglName: 'toaster', engagementName: 'Bench', timeoutSeconds: null,
  content: { title: 'Need help?', body: 'Chat with us.', acceptLabel: 'Chat now', closeLabel: 'Close' },
};

function serve(routes) {
  const server = createServer((req, res) => {
    // routes is read per request, so a caller may fill it after the port is known
    const path = new URL(req.url, 'http://x').pathname;
    const r = routes[path];
    if (!r) {
      res.writeHead(404);
      return res.end();
    }
    res.writeHead(200, { 'content-type': r.type, 'cache-control': 'no-store' });
    res.end(r.body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// Loads `src` the way the snippet does (an async script element) and resolves after its
// load event and the next frame.
const LOAD_SCRIPT = (src) =>
  new Promise((resolve) => {
    const s = document.createElement('script');
    s.async = true;
    s.src = src;
    s.onload = () => requestAnimationFrame(() => setTimeout(resolve, 0));
    document.head.appendChild(s);
  });

// The documented snippet, then waits for the first engagement in the DOM (OFFER_DISPLAY)
// and the next frame.
const LOAD_TAG = (snippet) =>
  new Promise((resolve) => {
    window.lpTag = {};
    new Function(snippet)();
    lpTag.events.bind('LP_OFFERS', 'OFFER_DISPLAY', () => requestAnimationFrame(() => setTimeout(resolve, 0)));
  });

async function measure(browser, files, work, arg) {
  const routes = {
    '/blank': { type: 'text/html', body: '<!doctype html><html><head><meta charset="utf-8"><title>bench</title></head><body><h1>Shop</h1><p>A page.</p></body></html>' },
    '/api/account/1/decision': { type: 'application/json', body: JSON.stringify({ engagements: [ENGAGEMENT] }) },
    '/api/account/1/events': { type: 'application/json', body: '{"accepted":0,"duplicates":0,"rejected":[]}' },
  };
  for (const [path, body] of Object.entries(files)) routes[path] = { type: 'application/javascript; charset=utf-8', body };
  const server = await serve(routes);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const values = [];
  for (let i = 0; i < RUNS + 1; i++) {
    const run = await cpuOfWith(browser, origin, work, typeof arg === 'function' ? arg(origin) : arg);
    if (i > 0) values.push(run); // the first run warms Chromium up
  }
  server.close();
  return values;
}

// Main-thread CPU time of `work(arg)` run in a fresh context on a bare page, from Chromium's
// own accounting (CDP Performance.getMetrics ThreadTime, the renderer main thread's CPU
// time), so that other processes competing for the cores do not inflate it the way they
// inflate wall-clock marks. `work` resolves one animation frame after it is done, so
// style, layout and paint of what it added are included.
async function cpuOfWith(browser, origin, work, arg) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await page.goto(origin + '/blank');
  await cdp.send('Performance.enable', { timeDomain: 'threadTicks' });
  const metric = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'ThreadTime').value;
  const before = await metric();
  await page.evaluate(work, arg);
  const after = await metric();
  await context.close();
  return (after - before) * 1000;
}

async function speed(browser, rows) {
  const snippet = readFileSync(join(TAG_DIR, 'snippet.js'), 'utf8');
  const files = { '/empty.js': 'window.__empty = 1;', '/tag/tag.js': readFileSync(join(TAG_DIR, 'dist', 'tag.min.js'), 'utf8') };
  rows.forEach((r, i) => (files[`/tracker-${i}.js`] = r.bundle));
  const baseline = median(await measure(browser, files, LOAD_SCRIPT, '/empty.js'));
  // Ours names its account as a page does (`?site=`): without one it only logs that it has
  // none, which is neither what a page runs nor cheap with DevTools attached.
  rows.forEach((r, i) => (r.path = `/tracker-${i}.js` + (i === 0 ? '?site=1' : '')));
  for (const r of rows) r.cpu = median(await measure(browser, files, LOAD_SCRIPT, r.path)) - baseline;
  const ours = await measure(browser, files, LOAD_TAG, (origin) => snippet.replace('ACCOUNT_ID', '1').replace('https://ENGAGE_HOST', origin));
  return { baseline, busy: median(ours) - baseline, busyMax: Math.max(...ours) - baseline };
}

// The issue's measure: alternating first visits of the snippet (to START and to painted)
// and of an empty script, on a bare DevTools connection; medians.
async function marked(tagSource) {
  const snippet = readFileSync(join(TAG_DIR, 'snippet.js'), 'utf8').replace('ACCOUNT_ID', '1');
  const routes = {
    '/blank': { type: 'text/html', body: '<!doctype html><html><head><meta charset="utf-8"><title>bench</title></head><body><h1>Shop</h1><p>A page.</p></body></html>' },
    '/api/account/1/decision': { type: 'application/json', body: JSON.stringify({ engagements: [ENGAGEMENT] }) },
    '/api/account/1/events': { type: 'application/json', body: '{"accepted":0,"duplicates":0,"rejected":[]}' },
    '/empty.js': { type: 'application/javascript; charset=utf-8', body: 'window.__empty = 1;' },
    '/tag/tag.js': { type: 'application/javascript; charset=utf-8', body: tagSource },
  };
  const server = await serve(routes);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const cdp = await launch(CHROMIUM);
  const acc = { tag: {}, empty: {}, tagAgain: {}, emptyAgain: {} };
  const keep = (into, r) => {
    for (const k of ['start', 'painted']) (into[k] = into[k] || []).push(r[k]);
  };
  const tagArg = snippet.replace('https://ENGAGE_HOST', origin);
  for (let i = 0; i < RUNS + 1; i++) {
    const rounds = [
      [acc.empty, await markedLoad(cdp, origin + '/blank', RUN_EMPTY, origin + '/empty.js')],
      [acc.tag, await markedLoad(cdp, origin + '/blank', RUN_TAG, tagArg)],
      // a returning visitor's second page view (its ids already in localStorage)
      [acc.emptyAgain, await markedLoad(cdp, origin + '/blank', RUN_EMPTY, origin + '/empty.js', { returning: true })],
      [acc.tagAgain, await markedLoad(cdp, origin + '/blank', RUN_TAG, tagArg, { returning: true })],
    ];
    if (i > 0) for (const [into, r] of rounds) keep(into, r); // the first round warms up
  }
  await cdp.close();
  server.close();
  const row = (tag, empty, k) => ({
    raw: median(tag[k]),
    empty: median(empty[k]),
    net: median(tag[k]) - median(empty[k]),
    worst: Math.max(...tag[k]) - median(empty[k]),
  });
  return {
    start: row(acc.tag, acc.empty, 'start'),
    painted: row(acc.tag, acc.empty, 'painted'),
    startAgain: row(acc.tagAgain, acc.emptyAgain, 'start'),
    paintedAgain: row(acc.tagAgain, acc.emptyAgain, 'painted'),
  };
}

// ---- main
const dir = arg('--keep') || mkdtempSync(join(tmpdir(), 'engage-tag-bench-'));
mkdirSync(dir, { recursive: true });
if (!existsSync(join(dir, 'node_modules', 'esbuild'))) install(dir);
else for (const c of COMPETITORS) c.version = JSON.parse(readFileSync(join(dir, 'node_modules', c.pkg, 'package.json'), 'utf8')).version;

const ours = readFileSync(join(TAG_DIR, 'dist', 'tag.min.js'));
const rows = [{ name: 'Engage tag (tag/dist/tag.min.js)', version: JSON.parse(readFileSync(join(TAG_DIR, 'package.json'), 'utf8')).version, bundle: ours, prebuilt: null }];
for (const c of COMPETITORS) {
  const prebuiltPath = c.prebuilt && join(dir, 'node_modules', c.prebuilt);
  rows.push({
    name: c.name,
    version: c.version,
    bundle: await bundle(dir, c),
    prebuilt: prebuiltPath && existsSync(prebuiltPath) ? { file: c.prebuilt, bytes: readFileSync(prebuiltPath) } : null,
  });
}

const browser = await browserOf();
const result = await speed(browser, rows);
await browser.close();
const issue = await marked(ours.toString('utf8'));

const lines = [];
lines.push(`| tracker | version | min | min+gzip | main-thread CPU to load and run the script (median) | prebuilt browser file, min+gzip |`);
lines.push(`| --- | --- | ---: | ---: | ---: | --- |`);
for (const r of rows) {
  const pre = r.prebuilt ? `${kb(gz(r.prebuilt.bytes))} KB (\`${r.prebuilt.file}\`)` : '—';
  lines.push(`| ${r.name} | ${r.version} | ${kb(r.bundle.length)} KB | **${kb(gz(r.bundle))} KB** | ${r.cpu.toFixed(1)} ms | ${pre} |`);
}
lines.push('');
lines.push(`Engage tag, from the snippet to the first engagement in the DOM and painted (START, OFFER_DISPLAY, next frame), median of ${RUNS} loads: main-thread CPU **${result.busy.toFixed(1)} ms** (worst ${result.busyMax.toFixed(1)} ms), after subtracting ${result.baseline.toFixed(1)} ms measured for an empty script loaded the same way.`);
lines.push('');
lines.push(`Engage tag, main-thread CPU between the page's marks (Chromium's trace, no DevTools domains on), medians of ${RUNS} page views alternating with an empty script loaded the same way:`);
lines.push('');
lines.push('| page view | from the snippet to | tag | empty script | **net** | worst, net |');
lines.push('| --- | --- | ---: | ---: | ---: | ---: |');
for (const [visit, label, r] of [
  ['first visit', '`START` (the issue\'s measure)', issue.start],
  ['first visit', 'the first engagement painted', issue.painted],
  ['returning visitor', '`START`', issue.startAgain],
  ['returning visitor', 'the first engagement painted', issue.paintedAgain],
]) {
  lines.push(`| ${visit} | ${label} | ${r.raw.toFixed(1)} ms | ${r.empty.toFixed(1)} ms | **${r.net.toFixed(1)} ms** | ${r.worst.toFixed(1)} ms |`);
}
const report = lines.join('\n');
console.log(report);
writeFileSync(join(dir, 'result.md'), report + '\n');
console.error(`\n(also in ${join(dir, 'result.md')})`);
console.error(`targets: min+gzip <= 8 KB: ${gz(ours) <= 8192 ? 'met' : 'MISSED'} (${gz(ours)} bytes); main thread to START <= 5 ms: ${issue.start.net <= 5 ? 'met' : 'MISSED'} (${issue.start.net.toFixed(1)} ms net, ${issue.start.raw.toFixed(1)} ms from the snippet)`);
if (!arg('--keep')) rmSync(dir, { recursive: true, force: true });
