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
// Speed, in Chromium (/usr/bin/chromium, Performance API marks and resource timing, no
// tracing overhead), median of --runs page loads after one warm-up load:
// - ours: main-thread time from the tag script's arrival to the first engagement in the
//   DOM (START, then OFFER_DISPLAY): its start-up (arrival to lp_SMT/MONITORING_STATE, the
//   last thing it does) plus the rendering (the decision's arrival to OFFER_DISPLAY). The
//   page and a fixed decision answer come from a local node server, so the figure is the
//   tag's work, not the network's or the server's;
// - every tracker (ours too): compile + evaluation of its script loaded as a blocking
//   script, the part every page pays before anything else.

import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants } from 'node:zlib';

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

// Main-thread time from the Performance API, with no tracing overhead: each window starts
// when the browser has the bytes (resource timing's responseEnd) and ends at a mark set by
// the first code that can run after the work, so it is an upper bound of that work.
async function measureOurs(browser) {
  const tag = readFileSync(join(TAG_DIR, 'dist', 'tag.min.js'), 'utf8');
  const snippet = readFileSync(join(TAG_DIR, 'snippet.js'), 'utf8');
  const routes = {};
  const server = await serve(routes);
  const origin = `http://127.0.0.1:${server.address().port}`;
  routes['/'] = {
    type: 'text/html',
    body: `<!doctype html><html><head><meta charset="utf-8"><title>bench</title><script>
window.lpTag = {};
${snippet.replace('ACCOUNT_ID', '1').replace('https://ENGAGE_HOST', origin)}
lpTag.events.bind('lp_SMT', 'MONITORING_STATE', function () { performance.mark('engage-ready'); });
lpTag.events.bind('LP_OFFERS', 'START', function () { performance.mark('engage-start'); });
lpTag.events.bind('LP_OFFERS', 'OFFER_DISPLAY', function () { performance.mark('engage-display'); });
</script></head><body><h1>Shop</h1><p>A page.</p></body></html>`,
  };
  routes['/tag/tag.js'] = { type: 'application/javascript; charset=utf-8', body: tag };
  routes['/api/account/1/decision'] = { type: 'application/json', body: JSON.stringify({ engagements: [ENGAGEMENT] }) };
  routes['/api/account/1/events'] = { type: 'application/json', body: '{"accepted":0,"duplicates":0,"rejected":[]}' };
  const runs = [];
  for (let i = 0; i < RUNS + 1; i++) {
    const context = await browser.newContext();
    const p = await context.newPage();
    await p.goto(origin + '/');
    await p.waitForFunction(() => performance.getEntriesByName('engage-display').length > 0, null, { timeout: 10000 });
    const t = await p.evaluate(() => {
      const res = (part) => performance.getEntriesByType('resource').find((r) => r.name.includes(part));
      const mark = (name) => performance.getEntriesByName(name)[0].startTime;
      return {
        tagArrived: res('/tag/tag.js').responseEnd,
        ready: mark('engage-ready'),
        decisionArrived: res('/decision').responseEnd,
        start: mark('engage-start'),
        display: mark('engage-display'),
      };
    });
    // the first load warms Chromium up and is not counted
    if (i > 0) {
      runs.push({
        init: t.ready - t.tagArrived,
        render: t.display - t.decisionArrived,
        wall: t.display - t.tagArrived,
      });
    }
    await context.close();
  }
  server.close();
  const busy = runs.map((r) => r.init + r.render);
  return {
    busy: median(busy),
    busyMax: Math.max(...busy),
    init: median(runs.map((r) => r.init)),
    render: median(runs.map((r) => r.render)),
    wall: median(runs.map((r) => r.wall)),
  };
}

// Compile + evaluation of a tracker's script, loaded as a blocking script: from its bytes'
// arrival to the inline script right after it.
async function measureEvaluation(browser, code) {
  const routes = {
    '/': {
      type: 'text/html',
      body: '<!doctype html><html><head><script src="/tracker.js"></script><script>performance.mark("after-tracker")</script></head><body><h1>Shop</h1></body></html>',
    },
    '/tracker.js': { type: 'application/javascript; charset=utf-8', body: code },
  };
  const server = await serve(routes);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const values = [];
  for (let i = 0; i < RUNS + 1; i++) {
    const context = await browser.newContext();
    const p = await context.newPage();
    await p.goto(origin + '/');
    const v = await p.evaluate(
      () => performance.getEntriesByName('after-tracker')[0].startTime - performance.getEntriesByType('resource').find((r) => r.name.includes('/tracker.js')).responseEnd
    );
    if (i > 0) values.push(v);
    await context.close();
  }
  server.close();
  return median(values);
}

// ---- main
const dir = arg('--keep') || mkdtempSync(join(tmpdir(), 'engage-tag-bench-'));
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
for (const r of rows) r.evaluation = await measureEvaluation(browser, r.bundle);
const speed = await measureOurs(browser);
await browser.close();

const lines = [];
lines.push(`| tracker | version | min | min+gzip | script compile+evaluate (median) | prebuilt browser file, min+gzip |`);
lines.push(`| --- | --- | ---: | ---: | ---: | --- |`);
for (const r of rows) {
  const pre = r.prebuilt ? `${kb(gz(r.prebuilt.bytes))} KB (\`${r.prebuilt.file}\`)` : '—';
  lines.push(`| ${r.name} | ${r.version} | ${kb(r.bundle.length)} KB | **${kb(gz(r.bundle))} KB** | ${r.evaluation.toFixed(2)} ms | ${pre} |`);
}
lines.push('');
lines.push(`Engage tag, script start → first engagement in the DOM (START then OFFER_DISPLAY), median of ${RUNS} loads:`);
lines.push(`main-thread **${speed.busy.toFixed(2)} ms** (worst ${speed.busyMax.toFixed(2)} ms): ${speed.init.toFixed(2)} ms from the script's arrival to the end of its start-up, ${speed.render.toFixed(2)} ms from the decision's arrival to the engagement in the DOM; wall time from the script's arrival ${speed.wall.toFixed(1)} ms (includes the decision round trip on loopback).`);
const report = lines.join('\n');
console.log(report);
writeFileSync(join(dir, 'result.md'), report + '\n');
console.error(`\n(also in ${join(dir, 'result.md')})`);
console.error(`targets: min+gzip <= 8 KB: ${gz(ours) <= 8192 ? 'met' : 'MISSED'} (${gz(ours)} bytes); main thread <= 5 ms: ${speed.busy <= 5 ? 'met' : 'MISSED'}`);
if (!arg('--keep')) rmSync(dir, { recursive: true, force: true });
