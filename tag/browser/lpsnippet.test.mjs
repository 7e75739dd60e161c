// A page that keeps LivePerson's published web tag snippet and only points lpTag.ovr.domain
// at Engage, in Chromium against the real server. The page builds lpTag with
// test/lp-shape.js, written here the way the snippet builds it (same queues, flags, arrays
// and order), and the snippet's own loader brings the tag from ovr.domain.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWorld, stopWorld, until, TAG_DIR } from './harness.mjs';

const SHAPE = readFileSync(join(TAG_DIR, 'test', 'lp-shape.js'), 'utf8');

let engage;
let pages;
let browser;

before(async () => {
  ({ engage, pages, browser } = await startWorld('snippet tests'));
});

after(() => stopWorld({ engage, pages, browser }));

// The page: `prepare` runs before the snippet (what a site sets, such as autoStart), then
// the snippet-shaped lpTag with ovr.domain = the Engage host, then `after` (the page's
// own calls, made before the tag has arrived).
function snippetPage({ prepare = '', after = '' } = {}) {
  const host = new URL(engage.url).host;
  return `<!doctype html><html><head><meta charset="utf-8"><title>Snippet shop</title>
<script>window.log = []; ${prepare}</script>
<script>${SHAPE}
lpShapedSnippet(${JSON.stringify(engage.account)}, ${JSON.stringify(host)}, location.protocol);</script>
<script>${after}</script></head><body><h1>Snippet shop</h1></body></html>`;
}

const AFTER = `
  lpTag.events.bind('LPT', 'DOM_READY', function (d) { log.push('dom:' + d.t); });
  lpTag.events.bind('lp_SMT', 'MONITORING_STATE', function () { log.push('started'); });
  lpTag.sdes.push({type: 'cart', total: 11.7, currency: 'USD', numItems: 1,
    products: [{product: {name: 'prod1', category: 'shoes', sku: 'sku1', price: 11.7}, quantity: 1}]});
  lpTag.defer(function () { log.push('loaded:' + !!lpTag._engage); });
  log.push('queued:' + lpTag._defB.length + '/' + (lpTag._defT || []).length + '/' + lpTag._defL.length);`;

test('the snippet-shaped page: an SDE pushed before load reaches the server, _defL runs, DOM_READY is heard', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(pages.set('/snippet.html', snippetPage({ after: AFTER })));
  await until(page, () => window.lpTag && window.lpTag._engage && log.includes('dom:contReady') && log.some((l) => l.startsWith('loaded')));
  const state = await page.evaluate(() => ({
    log: window.log,
    base: lpTag._engage.base,
    visitor: lpTag._engage.visit.visitorId,
    tagCount: lpTag._tagCount,
    defs: [typeof lpTag._defB, typeof lpTag._defT, typeof lpTag._defL],
  }));
  assert.equal(state.base, engage.url);
  assert.equal(state.tagCount, 1);
  assert.deepEqual(state.defs, ['undefined', 'undefined', 'undefined']);
  assert.equal(state.log[0], 'queued:2/0/1');
  assert.ok(state.log.indexOf('started') < state.log.indexOf('loaded:true'), state.log.join());
  assert.equal(state.log.filter((l) => l.startsWith('dom:')).length, 1);
  const rows = await engage.waitFor('sdes', (r) => r.some((x) => x.visitorId === state.visitor));
  const mine = rows.filter((x) => x.visitorId === state.visitor);
  assert.equal(mine.length, 1);
  assert.equal(mine[0].sde.cartStatus.total, '11.7');
  assert.deepEqual(errors, []);
  await context.close();
});

test('autoStart: false sends nothing until lpTag.start(); a second snippet only counts', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const sent = [];
  page.on('request', (r) => r.url().startsWith(engage.url + '/api/') && sent.push(r.url()));
  await page.goto(
    pages.set(
      '/later.html',
      snippetPage({
        prepare: 'window.lpTag = {autoStart: false};',
        after: AFTER + `\nlpShapedSnippet('other', 'elsewhere.example', 'https:');`,
      })
    )
  );
  await until(page, () => window.lpTag && window.lpTag._engage);
  await page.waitForTimeout(1500);
  assert.deepEqual(sent, []);
  assert.equal(await page.evaluate(() => lpTag._tagCount), 2);
  assert.ok(!(await page.evaluate(() => log.some((l) => l.startsWith('loaded')))));
  const visitor = await page.evaluate(() => {
    lpTag.start();
    return lpTag._engage.visit.visitorId;
  });
  await until(page, () => log.includes('loaded:true'));
  const rows = await engage.waitFor('sdes', (r) => r.some((x) => x.visitorId === visitor));
  assert.equal(rows.filter((x) => x.visitorId === visitor).length, 1);
  assert.ok(sent.some((u) => /\/decision$/.test(u)));
  await context.close();
});
