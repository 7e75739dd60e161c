// Retry-After in Chromium: a small stand-in in front of the real engage server passes every
// request through, except that it answers the first batch of events 429 with Retry-After
// (as a rate limit would). The tag must keep the batch, wait at least that long, and then
// deliver it to the real server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startWorld, stopWorld, shopPage, until, sleep } from './harness.mjs';

const RETRY_AFTER_S = 4;

let engage;
let pages;
let browser;
let proxy;
let proxyUrl;
const tries = []; // {at, status} of each POST .../events the stand-in saw
let limited = 1; // how many batches still get a 429

before(async () => {
  ({ engage, pages, browser } = await startWorld('retry-after tests'));
  proxy = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const origin = req.headers.origin;
    const events = req.method === 'POST' && /\/events$/.test(req.url);
    if (events && limited > 0) {
      limited--;
      tries.push({ at: Date.now(), status: 429 });
      res.writeHead(429, {
        'content-type': 'application/json',
        'retry-after': String(RETRY_AFTER_S),
        ...(origin ? { 'access-control-allow-origin': origin, 'access-control-expose-headers': 'Retry-After', vary: 'Origin' } : {}),
      });
      return res.end(JSON.stringify({ code: 'too_many_requests', message: 'slow down' }));
    }
    if (events) tries.push({ at: Date.now(), status: 'passed' });
    try {
      const headers = {};
      for (const k of ['content-type', 'origin']) if (req.headers[k]) headers[k] = req.headers[k];
      const r = await fetch(engage.url + req.url, { method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body });
      const out = {};
      for (const k of ['content-type', 'access-control-allow-origin', 'vary', 'cache-control']) if (r.headers.get(k)) out[k] = r.headers.get(k);
      res.writeHead(r.status, out);
      res.end(Buffer.from(await r.arrayBuffer()));
    } catch (e) {
      res.writeHead(502);
      res.end();
    }
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${proxy.address().port}`;
});

after(async () => {
  if (proxy) await new Promise((r) => proxy.close(r));
  await stopWorld({ engage, pages, browser });
});

test(`a 429 with Retry-After: ${RETRY_AFTER_S} keeps the batch and retries no sooner; then the items reach the server`, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const url = pages.set(
    '/retry.html',
    shopPage({ url: proxyUrl, account: engage.account }, {
      body: `<script>lpTag.sdes.push({type: 'searchInfo', keywords: ['retry-after-1']}, {type: 'searchInfo', keywords: ['retry-after-2']});</script>`,
    })
  );
  await page.goto(url);
  await until(page, () => window.lpTag && window.lpTag._engage);
  const deadline = Date.now() + 5000;
  while (!tries.length && Date.now() < deadline) await sleep(50);
  assert.equal(tries[0] && tries[0].status, 429, 'the first batch was answered 429');

  // while the server asks to wait, the batch stays in the stored outbox and nothing is tried
  await sleep(RETRY_AFTER_S * 1000 - 1000);
  assert.equal(tries.length, 1, 'no retry within Retry-After: ' + JSON.stringify(tries));
  const outbox = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('_engage_q_')).map((k) => JSON.parse(localStorage[k]).q.length));
  assert.deepEqual(outbox, [2]);

  const rows = await engage.waitFor('sdes', (r) => r.filter((x) => /retry-after-/.test(JSON.stringify(x))).length >= 2, 15000);
  assert.equal(rows.filter((x) => /retry-after-/.test(JSON.stringify(x))).length, 2, 'both items arrived');
  assert.equal(tries[1].status, 'passed');
  const waited = tries[1].at - tries[0].at;
  assert.ok(waited >= RETRY_AFTER_S * 1000 - 50, `retried ${waited} ms after the 429`);
  assert.ok(waited < RETRY_AFTER_S * 1000 + 3000, `but not much later: ${waited} ms`);
  await until(page, () => lpTag._engage.transport.size() === 0);
  assert.deepEqual(errors, []);
  await context.close();
});
