// How soon the console's first screen is usable on a filled store.
//
//   engage bench history --interactions 1000000 --keep DIR --queries 1
//     (prints `kept: DIR (account ID, api key KEY)`)
//   ENGAGE_BIN=target/release/engage node bench/console.mjs --data DIR --account ID --key KEY [--runs 15]
//
// Starts `engage serve --data DIR`, signs in through the sign-in form in Chromium
// (/usr/bin/chromium), timing the first screen after it (cold: the server has made no
// report yet), then loads the first screen (Overview, /console/) --runs times in
// the signed-in page, after one warm-up. Each load is timed from navigation start to the
// moment the screen is usable: its heading, its figures and its chart in the DOM, and the
// page's own script has run (the figures are written for the locale), read from the
// Navigation Timing entry (responseStart: the server's answer begins; domContentLoaded;
// loadEventEnd) and from the time the figures were visible. Prints one JSON line with
// the medians and the worst run, in milliseconds.

import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { chromium } from 'playwright-core';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const DATA = arg('--data');
const ACCOUNT = arg('--account');
const KEY = arg('--key');
const RUNS = +arg('--runs', 15);
const BIN = process.env.ENGAGE_BIN || 'target/release/engage';
if (!DATA || !ACCOUNT || !KEY) {
  console.error('usage: node bench/console.mjs --data DIR --account ID --key KEY [--runs N]');
  process.exit(2);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x) => Math.round(x * 10) / 10;

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function startServer() {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(BIN, ['serve', '--data', DATA, '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, ENGAGE_LOG: process.env.ENGAGE_LOG || 'warn' },
  });
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { child, url };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`${BIN} serve did not answer /healthz within 60 s`);
}

const { child, url } = await startServer();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await page.goto(`${url}/console/`);
  await page.getByLabel('Account ID').fill(ACCOUNT);
  await page.getByLabel('API key').fill(KEY);
  // The first screen right after sign-in, on a server that has answered no report yet
  // (its fact cache empty): what the first user after a restart waits for.
  const signedIn = Date.now();
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor({ timeout: 120000 });
  await page.locator('[data-figure] .value data').first().waitFor({ timeout: 120000 });
  await page.locator('[data-chart="overview"] svg').waitFor({ timeout: 120000 });
  const cold = Date.now() - signedIn;

  const runs = [];
  for (let i = 0; i <= RUNS; i++) {
    const started = Date.now();
    await page.goto(`${url}/console/`, { waitUntil: 'commit', timeout: 120000 });
    await page.locator('[data-figure] .value data').first().waitFor({ timeout: 120000 });
    await page.locator('[data-chart="overview"] svg').waitFor({ timeout: 120000 });
    const visible = Date.now() - started;
    const nav = await page.evaluate(() => {
      const [e] = performance.getEntriesByType('navigation');
      return { responseStart: e.responseStart, domContentLoaded: e.domContentLoadedEventEnd, load: e.loadEventEnd };
    });
    if (i > 0) runs.push({ ...nav, visible });
  }
  const pick = (k) => runs.map((r) => r[k]);
  console.log(
    JSON.stringify({
      runs: RUNS,
      cold_after_sign_in_ms: cold,
      server_answer_ms: round(median(pick('responseStart'))),
      dom_content_loaded_ms: round(median(pick('domContentLoaded'))),
      load_ms: round(median(pick('load'))),
      usable_ms: round(median(pick('visible'))),
      usable_worst_ms: round(Math.max(...pick('visible'))),
    }),
  );
} finally {
  await browser.close();
  child.kill('SIGTERM');
}
