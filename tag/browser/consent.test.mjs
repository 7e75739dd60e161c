// The consent gate in Chromium against the real engage server: with lpTag.consent =
// 'required' the page's storage (cookies, localStorage, sessionStorage) stays empty and no
// request but the tag script itself reaches the server until lpTag.consent.grant(); after
// it the tag runs as without the gate; lpTag.consent.withdraw() clears the storage and
// stops sending.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startWorld, stopWorld, shopPage, until, sleep, OUTPUT } from './harness.mjs';

let engage;
let pages;
let browser;
let engagementId;

before(async () => {
  ({ engage, pages, browser } = await startWorld('consent tests'));
  const campaign = await engage.api('POST', '/api/account/{account}/campaigns', { name: 'Consent test campaign' });
  const e = await engage.api('POST', `/api/account/{account}/campaigns/${campaign.campaignId}/engagements`, {
    name: 'Consent toaster',
    engagementType: 2,
    targeting: { sections: { include: ['consent'] } },
    content: { title: 'Shown once the visitor consented' },
  });
  engagementId = e.engagementId;
  await engage.api('PUT', `/api/account/{account}/campaigns/${campaign.campaignId}/engagements/${engagementId}/availability`, { state: 1 });
});

after(() => stopWorld({ engage, pages, browser }));

// Everything the page's origin keeps (the tag's storage is first-party).
const storage = async (context, page) => ({
  cookies: (await context.cookies()).map((c) => c.name),
  documentCookie: await page.evaluate(() => document.cookie),
  localStorage: await page.evaluate(() => Object.keys(localStorage)),
  sessionStorage: await page.evaluate(() => Object.keys(sessionStorage)),
});
const EMPTY = { cookies: [], documentCookie: '', localStorage: [], sessionStorage: [] };

test('consent required: nothing stored and nothing sent before grant(); after it the tag runs as usual; withdraw() clears and stops', async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const requests = []; // every request to the Engage server: [method, path]
  context.on('request', (r) => r.url().startsWith(engage.url) && requests.push([r.method(), new URL(r.url()).pathname]));
  const html = shopPage(engage, {
    title: 'Consent',
    head: `window.lpTag = window.lpTag || {}; lpTag.consent = 'required'; lpTag.section = ['consent'];
      lpTag.sdes = lpTag.sdes || []; lpTag.sdes.push({type: 'cart', total: 1, currency: 'USD'});`,
    body: `<script>lpTag.sdes.push({type: 'searchInfo', keywords: ['consent-before-load']});
      lpTag.events.trigger('shop', 'VIEW', {n: 1});</script>`,
  });
  const url = pages.set('/consent.html', html);
  const second = pages.set('/consent-2.html', html);

  // Two page views without consent: the first left by a navigation (page hide, no beacon)
  await page.goto(url);
  await until(page, () => window.lpTag && window.lpTag._engage);
  assert.equal(await page.evaluate(() => lpTag.consent.status()), 'pending');
  await page.evaluate(() => lpTag.sdes.push({ type: 'searchInfo', keywords: ['consent-after-load'] }));
  await sleep(2500); // more than the outbox's one-second delay
  assert.deepEqual(await storage(context, page), EMPTY);
  await page.goto(second);
  await until(page, () => window.lpTag && window.lpTag._engage);
  await page.evaluate(() => lpTag.sdes.send({ type: 'searchInfo', keywords: ['consent-send'] }));
  await sleep(2500);
  assert.deepEqual(await storage(context, page), EMPTY, 'nothing stored');
  assert.deepEqual(
    requests.filter(([, path]) => path !== '/tag/tag.js'),
    [],
    'no request but the tag script itself reached the server: ' + JSON.stringify(requests)
  );
  assert.ok(requests.length >= 1);
  assert.deepEqual(engage.export('sdes'), []);
  assert.equal(await page.locator('engage-offer').count(), 0, 'no engagement without a decision');

  // Consent: the held items go, the engagement is asked for and shown, the ids are stored
  await page.evaluate(() => lpTag.consent.grant());
  assert.equal(await page.evaluate(() => lpTag.consent.status()), 'granted');
  await page.locator(`engage-offer[data-engagement-id="${engagementId}"]`).waitFor({ state: 'attached', timeout: 10000 });
  const rows = await engage.waitFor('sdes', (r) => r.length >= 3);
  const visitorId = await page.evaluate(() => lpTag._engage.visit.visitorId);
  assert.equal(rows.length, 3, 'the three SDEs of this page view (the first page view’s were never kept)');
  assert.ok(rows.every((r) => r.visitorId === visitorId));
  assert.ok(rows.some((r) => /consent-send/.test(JSON.stringify(r))));
  const granted = await storage(context, page);
  assert.ok(granted.localStorage.includes('_engage_vid'), JSON.stringify(granted));
  assert.ok(granted.cookies.includes('_engage_vid'));
  assert.deepEqual(granted.sessionStorage, []);
  assert.ok(requests.some(([m, p]) => m === 'POST' && /\/decision$/.test(p)));
  const events = await engage.waitFor('events', (r) => r.some((x) => x.eventName === 'OFFER_DISPLAY'));
  assert.ok(events.every((x) => x.visitorId === visitorId));
  await page.screenshot({ path: join(OUTPUT, 'consent-granted.png') });

  // Withdrawn: storage cleared, the engagement gone, nothing sent any more
  await until(page, () => lpTag.events.hasFired('LP_OFFERS', 'OFFER_IMPRESSION').length > 0);
  await sleep(1500); // the impression's batch
  await until(page, () => lpTag._engage.transport.size() === 0);
  const sentBefore = requests.length;
  await page.evaluate(() => lpTag.consent.withdraw());
  assert.equal(await page.evaluate(() => lpTag.consent.status()), 'withdrawn');
  assert.deepEqual(await storage(context, page), EMPTY, 'withdraw clears the tag’s storage');
  assert.equal(await page.locator('engage-offer').count(), 0);
  await page.evaluate(() => {
    lpTag.sdes.push({ type: 'searchInfo', keywords: ['consent-withdrawn'] });
    lpTag.newPage(location.href + '#next');
  });
  await sleep(2500);
  await page.goto(pages.set('/away.html', '<!doctype html><title>elsewhere</title>'));
  await sleep(500);
  assert.deepEqual(requests.slice(sentBefore), [], 'nothing sent after the withdrawal, not even a beacon');
  assert.equal(engage.export('sdes').filter((r) => /consent-withdrawn/.test(JSON.stringify(r))).length, 0);
  assert.deepEqual(errors, []);
  await context.close();
});

test('without a consent setting the tag stores its ids and sends at load, as it always has', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const requests = [];
  context.on('request', (r) => r.url().startsWith(engage.url) && requests.push(new URL(r.url()).pathname));
  await page.goto(pages.set('/no-gate.html', shopPage(engage, { head: "window.lpTag = {section: ['consent']};" })));
  await until(page, () => window.lpTag && window.lpTag._engage);
  assert.equal(await page.evaluate(() => lpTag.consent.status()), 'none');
  await until(page, () => localStorage.getItem('_engage_vid'));
  await page.locator('engage-offer').waitFor({ state: 'attached', timeout: 10000 });
  assert.ok(requests.some((p) => /\/decision$/.test(p)));
  await context.close();
});
