// Engagement rendering in Chromium against the real engage server: campaigns and
// engagements made through its admin API, the decision from its decision route, the
// lifecycle read from the page's bus and from the server's store.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Engage, Pages, launch, shopPage, until, requireTools, stopWorld, OUTPUT } from './harness.mjs';

let engage;
let pages;
let browser;
const made = {}; // engagementType -> the engagement as the admin API answered it

const TYPES = [
  { type: 0, name: 'peeling corner', state: 1, answer: 'accept' },
  { type: 1, name: 'overlay', state: 2, answer: 'close' },
  { type: 2, name: 'toaster', state: 4, answer: 'timeout', timeoutSeconds: 2 },
  { type: 3, name: 'slide-out', state: 1, answer: 'accept' },
  { type: 5, name: 'embedded', state: 1, answer: 'close', zoneId: 4242 },
  { type: 6, name: 'sticky', state: 2, answer: 'removed by the page' },
];
const STATE_NAMES = { 1: 'online', 2: 'offline', 4: 'busy' };
const PROPERTIES = ['contexts', 'campaignId', 'engagementId', 'engagementRevision', 'engagementType', 'contextId', 'zoneId', 'state', 'confKey', 'tglName', 'done', 'engagementName'];

before(async () => {
  requireTools();
  engage = new Engage();
  engage.createAccount('render tests');
  await engage.start();
  const probe = await fetch(`${engage.url}/api/account/${engage.account}/decision`, { method: 'POST', body: '{}' });
  if (probe.status === 404 && /not_found/.test(await probe.text())) {
    throw new Error('the server has no decision route (POST /api/account/{accountId}/decision) yet: these tests need it');
  }
  const campaign = await engage.api('POST', '/api/account/{account}/campaigns', { name: 'Render test campaign' });
  for (const t of TYPES) {
    const e = await engage.api('POST', `/api/account/{account}/campaigns/${campaign.campaignId}/engagements`, {
      name: `Type ${t.type} ${t.name}`,
      engagementType: t.type,
      zoneId: t.zoneId ?? 100 + t.type,
      timeoutSeconds: t.timeoutSeconds ?? null,
      targeting: { sections: { include: [`type-${t.type}`] } },
      content: { title: `Need help? (${t.name})`, body: 'Questions about your order? We are here to help.', acceptLabel: 'Chat now', closeLabel: 'No thanks' },
    });
    await engage.api('PUT', `/api/account/{account}/campaigns/${campaign.campaignId}/engagements/${e.engagementId}/availability`, { state: t.state });
    made[t.type] = Object.assign({ campaignId: campaign.campaignId }, e);
  }
  pages = new Pages();
  await pages.start();
  browser = await launch();
});

after(() => stopWorld({ engage, pages, browser }));

for (const t of TYPES) {
  test(`type ${t.type} (${t.name}) renders with its state, is visible, and fires its lifecycle with every property (${t.answer})`, async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const url = pages.set(
      `/type-${t.type}.html`,
      shopPage(engage, {
        title: `Type ${t.type}: ${t.name}`,
        head: `window.lpTag = window.lpTag || {}; lpTag.section = ['type-${t.type}'];
          lpTag.sdes = lpTag.sdes || []; lpTag.sdes.push({ type: 'ctmrinfo', info: { customerId: 'customer-of-type-${t.type}' } });`,
        body: `<p>${'A product description that fills the page. '.repeat(12)}</p>` + (t.type === 5 ? `<div data-engage-zone="${t.zoneId}" style="width:460px;margin:24px 0"></div>` : ''),
      })
    );
    await page.goto(url);
    const host = page.locator(`engage-offer[data-engagement-id="${made[t.type].engagementId}"]`);
    await host.waitFor({ state: 'attached', timeout: 10000 });
    await until(page, () => lpTag.events.hasFired('LP_OFFERS', 'OFFER_IMPRESSION').length > 0);
    await page.waitForTimeout(400); // the entrance animation
    await page.screenshot({ path: join(OUTPUT, `type-${t.type}-${t.name.replace(/\W+/g, '-')}.png`) });

    assert.equal(await host.getAttribute('data-state'), STATE_NAMES[t.state]);
    assert.equal(await host.getAttribute('data-engagement-type'), String(t.type));
    const contextId = await host.getAttribute('data-context-id');
    assert.ok(contextId);
    const accept = host.locator('[data-action="accept"]');
    const close = host.locator('[data-action="close"]');
    assert.ok(await accept.isVisible());
    assert.ok(await close.isVisible());
    const box = await host.locator('[part="engagement"]').boundingBox();
    assert.ok(box && box.width > 100 && box.height > 40 && box.x >= 0 && box.y >= 0 && box.x + box.width <= 1101 && box.y + box.height <= 701, JSON.stringify(box));
    // the page's hostile CSS (button{background:hotpink!important}) does not reach inside
    assert.notEqual(await accept.evaluate((b) => getComputedStyle(b).backgroundColor), 'rgb(255, 105, 180)');
    if (t.type === 5) {
      assert.equal(await host.evaluate((h) => h.parentElement.getAttribute('data-engage-zone')), String(t.zoneId));
    }

    if (t.answer === 'accept') await accept.click();
    if (t.answer === 'close') await close.click();
    if (t.answer === 'removed by the page') await page.evaluate(() => document.querySelector('engage-offer').remove());
    await until(page, () => lpTag.events.hasFired('LP_OFFERS', 'OFFER_REMOVE').length > 0, undefined, 10000);
    assert.equal(await host.count(), 0);

    const fired = await page.evaluate(() => lpTag.events.hasFired('LP_OFFERS', '*').map((x) => ({ eventName: x.eventName, data: x.data })));
    const pageId = await page.evaluate(() => lpTag._engage.tag.pageId);
    const ending = { accept: ['OFFER_CLICK'], close: ['OFFER_DECLINED'], timeout: ['OFFER_TIMEOUT'], 'removed by the page': [] }[t.answer];
    assert.deepEqual(fired.map((f) => f.eventName), ['START', 'OFFER_DISPLAY', 'OFFER_IMPRESSION', ...ending, 'OFFER_REMOVE']);
    const e = made[t.type];
    for (const f of fired) {
      assert.deepEqual(Object.keys(f.data).sort(), [...PROPERTIES].sort(), f.eventName);
      assert.deepEqual(f.data.contexts, [{ EngagementContext: { id: contextId } }, { pageContext: { id: pageId } }]);
      assert.equal(f.data.contextId, contextId);
      assert.equal(String(f.data.campaignId), String(e.campaignId));
      assert.equal(String(f.data.engagementId), String(e.engagementId));
      assert.equal(f.data.confKey, `${f.data.campaignId}_${f.data.engagementId}_${f.data.engagementRevision}`);
      assert.equal(f.data.engagementType, t.type);
      assert.equal(f.data.state, t.state);
      assert.equal(f.data.done, true);
      assert.equal(f.data.engagementName, `Type ${t.type} ${t.name}`);
      assert.ok(f.data.tglName);
    }

    // and the server has the same lifecycle, once, with nothing quarantined
    const rows = await engage.waitFor('events', (r) => r.filter((x) => JSON.stringify(x).includes(contextId)).length >= fired.length);
    const mine = rows.filter((x) => JSON.stringify(x).includes(contextId));
    assert.deepEqual(mine.map((x) => x.eventName).sort(), fired.map((f) => f.eventName).sort());
    assert.deepEqual(engage.export('quarantine'), []);

    // and the Engagement History API has the interaction with the visit's attributes,
    // found by the customer id the page reported
    const outcome = { accept: 'clicked', close: 'declined', timeout: 'timed_out', 'removed by the page': 'removed' }[t.answer];
    const record = await historyRecord({ sdeSearch: { customerInfo: `customer-of-type-${t.type}` } }, (r) => r.engage.events.length === fired.length);
    assert.equal(record.info.engagementId, contextId);
    assert.equal(record.engage.outcome, outcome);
    assert.equal(record.engage.pageId, pageId);
    assert.equal(record.campaign.campaignEngagementId, String(e.engagementId));
    assert.equal(record.engage.campaign.engagementType, t.type);
    assert.deepEqual(record.engage.events.map((x) => x.eventName), fired.map((f) => f.eventName), 'the timeline in lifecycle order');
    assert.ok(record.info.endTimeL >= record.info.startTimeL);
    assert.equal(record.info.isInteractive, t.answer === 'accept');
    assert.equal(record.visitorInfo.browser.split(' ')[0], 'Chrome');
    const customer = record.sdes.events.find((x) => x.customerInfo);
    assert.equal(customer.customerInfo.customerInfo.customerId, `customer-of-type-${t.type}`);
    assert.equal(customer.sdeType, 'CUSTOMER_INFO');
    assert.ok(Number(customer.customerInfo.serverTimeStamp) > 0 && Number(customer.customerInfo.originalTimeStamp) > 0);
    assert.deepEqual(errors, []);
    await context.close();
  });
}

// The one interaction a search finds, once `ready(record)` holds (events arrive in batches).
// The browser is headless Chromium, whose user agent says `HeadlessChrome`: its
// interactions are flagged as a bot's, so the search asks for them with `includeBots`.
async function historyRecord(filters, ready, ms = 15000) {
  const deadline = Date.now() + ms;
  let answer;
  for (;;) {
    answer = await engage.api('POST', '/interaction_history/api/account/{account}/interactions/search?source=render-test', {
      start: { from: Date.now() - 3600_000, to: Date.now() + 60_000 },
      includeBots: true,
      ...filters,
    });
    const records = answer.interactionHistoryRecords;
    if (records.length === 1 && ready(records[0])) return records[0];
    if (Date.now() > deadline) throw new Error(`no ready interaction for ${JSON.stringify(filters)}: ${JSON.stringify(answer)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('a page with a strict Content-Security-Policy (no inline styles) still gets a styled engagement', async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  const csp = `default-src 'none'; script-src 'nonce-t3st' ${engage.url}; connect-src ${engage.url}; style-src 'none'`;
  const url = pages.set(
    '/csp.html',
    shopPage(engage, {
      title: 'Strict CSP',
      nonce: 't3st',
      head: `window.violations = []; document.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective + ' ' + e.sourceFile));
             window.lpTag = window.lpTag || {}; lpTag.section = ['type-3'];`,
    }),
    { 'content-security-policy': csp }
  );
  await page.goto(url);
  const host = page.locator(`engage-offer[data-engagement-id="${made[3].engagementId}"]`);
  await host.waitFor({ state: 'attached', timeout: 10000 });
  await until(page, () => lpTag.events.hasFired('LP_OFFERS', 'OFFER_IMPRESSION').length > 0);
  await page.waitForTimeout(400);
  await page.screenshot({ path: join(OUTPUT, 'strict-csp-slide-out.png') });
  assert.equal(await host.evaluate((h) => getComputedStyle(h).position), 'fixed');
  assert.equal(await host.locator('[part="engagement"]').evaluate((c) => getComputedStyle(c).backgroundColor), 'rgb(255, 255, 255)');
  assert.equal(await host.locator('[data-action="accept"]').evaluate((b) => getComputedStyle(b).backgroundColor), 'rgb(11, 92, 255)');
  const ours = (await page.evaluate(() => window.violations)).filter((v) => v.includes('/tag/tag.js'));
  assert.deepEqual(ours, []);
  await context.close();
});
