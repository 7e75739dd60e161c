// The tag in Chromium against the real engage server, embedded with the documented snippet
// on a page of another origin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWorld, stopWorld, shopPage, until, sleep, OUTPUT, TAG_DIR } from './harness.mjs';

let engage;
let pages;
let browser;

before(async () => {
  ({ engage, pages, browser } = await startWorld('browser tests'));
});

after(() => stopWorld({ engage, pages, browser }));

// A fresh browser profile per test, with the page's console kept for assertions.
async function open() {
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  page.consoleLines = [];
  page.on('console', (m) => page.consoleLines.push(m.type() + ': ' + m.text()));
  page.on('pageerror', (e) => page.consoleLines.push('pageerror: ' + e.message));
  return { context, page };
}

const loaded = (page) => until(page, () => window.lpTag && window.lpTag._engage);

test('the server serves the tag that tag/dist holds (rebuild the binary when this fails)', async () => {
  const served = await (await fetch(`${engage.url}/tag/tag.js?site=${engage.account}`)).text();
  const dist = readFileSync(join(TAG_DIR, 'dist', 'tag.min.js'), 'utf8');
  assert.ok(served === dist, `${engage.url}/tag/tag.js (${served.length} bytes) differs from tag/dist/tag.min.js (${dist.length} bytes): rebuild the binary with \`cargo build --release\``);
});

test('the bus in a real page: queued snippet calls, context, async listeners, a throwing callback, hasFired', async () => {
  const { context, page } = await open();
  const url = pages.set(
    '/bus.html',
    shopPage(engage, {
      head: 'window.heard = [];',
      body: `<script>
        lpTag.events.trigger('shop', 'EARLY', {n: 1});
        lpTag.events.bind('shop', 'EARLY', function (d, info) { heard.push(info.appName + '/' + info.eventName + '/' + d.n); });
      </script>`,
    })
  );
  await page.goto(url);
  await loaded(page);
  assert.deepEqual(await page.evaluate(() => window.heard), ['shop/EARLY/1']);
  const result = await page.evaluate(async () => {
    const ev = lpTag.events;
    const out = [];
    ev.bind('a', 'E', () => {
      throw new Error('boom');
    });
    ev.bind({ appName: 'a', eventName: 'E', context: { name: 'ctx' }, func() { out.push(this.name); } });
    ev.bind({ appName: 'a', eventName: 'E', async: true, func: () => out.push('async') });
    const once = ev.once('a', 'E', () => out.push('once'));
    const any = ev.trigger('a', 'E', { x: 1 });
    ev.trigger('a', 'E', { x: 2 });
    out.push('sync done');
    await new Promise((r) => setTimeout(r, 20));
    return { any, once, out, fired: ev.hasFired('a', '*').map((f) => f.data.x), smt: ev.hasFired('lp_SMT', 'MONITORING_STATE')[0].data };
  });
  assert.equal(result.any, true);
  assert.match(result.once, /^evId_\d+$/);
  assert.deepEqual(result.out, ['ctx', 'once', 'ctx', 'sync done', 'async', 'async']);
  assert.deepEqual(result.fired, [1, 2]);
  assert.deepEqual(result.smt, { active: true });
  assert.equal(page.consoleLines.filter((l) => /a\/E \(evId_\d+\) threw/.test(l)).length, 2);
  await context.close();
});

test('SDE pushes before and after the tag loaded reach the server, from a page on another origin', async () => {
  const { context, page } = await open();
  const failed = [];
  page.on('requestfailed', (r) => /\/events$/.test(r.url()) && failed.push(r.url() + ' ' + r.failure().errorText));
  const url = pages.set(
    '/sdes.html',
    shopPage(engage, {
      head: `window.lpTag = window.lpTag || {}; lpTag.section = ['shop', 'cart'];
             lpTag.sdes = lpTag.sdes || []; lpTag.sdes.push({type: 'cart', total: 11.7, currency: 'USD', numItems: 1,
               products: [{product: {name: 'prod1', category: 'shoes', sku: 'sku1', price: 11.7}, quantity: 1}]});`,
      body: `<script>lpTag.sdes.push({type: 'ctmrinfo', info: {customerId: 'c-42', ctype: 'vip'}});</script>`,
    })
  );
  await page.goto(url);
  await loaded(page);
  const sent = await page.evaluate(
    () =>
      new Promise((resolve) => {
        lpTag.sdes.push({ type: 'searchInfo', keywords: ['running shoes'] });
        lpTag.sdes.send({ type: 'purchase', total: 11.7, currency: 'USD', orderId: 'DRV1534XC' }, (error, result) =>
          resolve({ error: error && error.message, result, visitor: lpTag._engage.visit.visitorId, pageId: lpTag._engage.tag.pageId })
        );
      })
  );
  assert.equal(sent.error, null);
  assert.ok(sent.result.accepted >= 1);
  const rows = await engage.waitFor('sdes', (r) => r.length >= 4);
  const keys = rows.map((r) => Object.keys(r.sde)[0]).sort();
  assert.deepEqual(keys, ['cartStatus', 'customerInfo', 'purchase', 'searchContent']);
  for (const r of rows) {
    assert.equal(r.visitorId, sent.visitor);
    assert.equal(r.pageId, sent.pageId);
  }
  assert.equal(rows.find((r) => r.sde.cartStatus).sde.cartStatus.total, '11.7');
  assert.deepEqual(failed, []);
  assert.deepEqual(engage.export('quarantine'), [], 'nothing the tag sent was rejected');
  await context.close();
});

test('visitor and session ids survive a reload; the page id does not', async () => {
  const { context, page } = await open();
  const url = pages.set('/ids.html', shopPage(engage));
  await page.goto(url);
  await loaded(page);
  const ids = () => page.evaluate(() => [lpTag._engage.visit.visitorId, lpTag._engage.visit.session(), lpTag._engage.tag.pageId]);
  const first = await ids();
  await page.reload();
  await loaded(page);
  const second = await ids();
  assert.equal(second[0], first[0]);
  assert.equal(second[1], first[1]);
  assert.notEqual(second[2], first[2]);
  await context.close();
});

test('a server that is down, then back on the same port and data: the items arrive, exactly once', async () => {
  const { context, page } = await open();
  const url = pages.set('/outage.html', shopPage(engage));
  await page.goto(url);
  await loaded(page);
  await engage.stop();
  const ids = await page.evaluate(() => {
    for (let i = 0; i < 5; i++) lpTag.sdes.push({ type: 'searchInfo', keywords: ['outage ' + i] });
    lpTag.events.trigger('LP_OFFERS', 'OFFER_CLICK', {
      contexts: [{ EngagementContext: { id: 'outage-ctx' } }, { pageContext: { id: lpTag._engage.tag.pageId } }],
      campaignId: 1, engagementId: 2, engagementRevision: 3, engagementType: 2, contextId: 'outage-ctx', zoneId: 4,
      state: 1, confKey: '1_2_3', tglName: 'toaster', done: true, engagementName: 'outage test',
    });
    return lpTag._engage.transport.size();
  });
  assert.equal(ids, 6);
  await sleep(4000); // a few failed tries
  const stored = Object.keys(await page.evaluate(() => ({ ...localStorage }))).filter((k) => k.startsWith('_engage_q_'));
  assert.equal(stored.length, 1, 'the outbox is in localStorage while the server is away');
  await engage.start();
  const rows = await engage.waitFor('sdes', (r) => r.filter((x) => /outage/.test(JSON.stringify(x))).length >= 5, 40000);
  const outage = rows.filter((x) => /outage/.test(JSON.stringify(x)));
  assert.equal(outage.length, 5);
  assert.equal(new Set(outage.map((x) => x.id ?? x.clientId)).size, 5);
  const events = await engage.waitFor('events', (r) => r.some((x) => /outage-ctx/.test(JSON.stringify(x))), 20000);
  assert.equal(events.filter((x) => /outage-ctx/.test(JSON.stringify(x))).length, 1);
  await until(page, () => lpTag._engage.transport.size() === 0, undefined, 20000);
  await sleep(1500);
  assert.equal(engage.export('sdes').filter((x) => /outage/.test(JSON.stringify(x))).length, 5, 'no second copy later');
  await context.close();
});

test('sendBeacon on page hide delivers what was still queued', async () => {
  const { context, page } = await open();
  const url = pages.set('/beacon.html', shopPage(engage));
  const away = pages.set('/away.html', '<!doctype html><title>elsewhere</title><p>no tag here</p>');
  await page.goto(url);
  await loaded(page);
  await page.evaluate(() => {
    // Only the beacon may carry it: the page's fetch to /events fails from now on.
    const realFetch = window.fetch;
    window.fetch = (u, init) => (/\/events$/.test(u) ? Promise.reject(new TypeError('blocked by the test')) : realFetch(u, init));
    lpTag.sdes.push({ type: 'lead', lead: { topic: 'beacon-test', value: 1, currency: 'USD', leadId: 'L1' } });
  });
  await page.goto(away);
  const rows = await engage.waitFor('sdes', (r) => r.some((x) => /beacon-test/.test(JSON.stringify(x))));
  assert.equal(rows.filter((x) => /beacon-test/.test(JSON.stringify(x))).length, 1);
  await context.close();
});

test('the page keeps working when the decision is not available, and says so in the console', async () => {
  const { context, page } = await open();
  const url = pages.set('/nodecision.html', shopPage(engage));
  await page.goto(url);
  await loaded(page);
  await page.screenshot({ path: join(OUTPUT, 'page-with-tag.png') });
  assert.equal(await page.evaluate(() => typeof lpTag.newPage), 'function');
  assert.deepEqual(page.consoleLines.filter((l) => l.startsWith('pageerror')), []);
  await context.close();
});
