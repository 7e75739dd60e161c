// BEFORE_ENG_CHANNEL_OPEN in Chromium, on an engagement from the real decision route: hooks
// pushed before and after the tag loaded run on accept with what the page needs to open its
// own channel; the tag opens the url a hook gives (in the click's gesture, so the popup
// blocker lets it through), or nothing when a hook took over with `handled: true`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startWorld, stopWorld, shopPage, until, sleep, OUTPUT } from './harness.mjs';

let engage;
let pages;
let browser;
let made;

before(async () => {
  ({ engage, pages, browser } = await startWorld('hook tests'));
  const campaign = await engage.api('POST', '/api/account/{account}/campaigns', { name: 'Hook test campaign' });
  made = await engage.api('POST', `/api/account/{account}/campaigns/${campaign.campaignId}/engagements`, {
    name: 'Chat toaster',
    engagementType: 2,
    targeting: { sections: { include: ['hooks'] } },
    content: { title: 'Talk to us', acceptLabel: 'Open chat' },
  });
  made.campaignId = campaign.campaignId;
  await engage.api('PUT', `/api/account/{account}/campaigns/${campaign.campaignId}/engagements/${made.engagementId}/availability`, { state: 1 });
});

after(() => stopWorld({ engage, pages, browser }));

// The page's hooks: the first (pushed before the tag loaded, into the array the snippet
// prepares) records what it got and points the channel at the site's chat page; one pushed
// after load throws; the last takes over when the page asks it to.
const HEAD = `window.lpTag = window.lpTag || {}; lpTag.section = ['hooks']; window.seen = [];
  lpTag.hooks = lpTag.hooks || [];
  lpTag.hooks.push({name: 'BEFORE_ENG_CHANNEL_OPEN', callback: function (o) {
    seen.push({hook: 'early', data: JSON.parse(JSON.stringify(o.data)),
      lifecycle: lpTag.events.hasFired('LP_OFFERS', '*').map(function (x) { return x.eventName; })});
    o.data.url = '/chat.html?engagement=' + o.data.engagementId + '&visitor=' + o.data.visitorId;
    return o;
  }});`;
const LATE = () => {
  lpTag.hooks.push({ name: 'BEFORE_ENG_CHANNEL_OPEN', callback: () => { throw new Error('a broken hook'); } });
  lpTag.hooks.push({
    name: 'BEFORE_ENG_CHANNEL_OPEN',
    callback: (o) => {
      seen.push({ hook: 'late', url: o.data.url });
      if (window.ownChat) {
        const chat = document.createElement('div');
        chat.id = 'own-chat';
        chat.textContent = 'Chat for ' + o.data.contextId;
        document.body.append(chat);
        o.data.handled = true;
      }
      return o;
    },
  });
};

async function openPage(name) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  page.consoleLines = [];
  page.on('console', (m) => page.consoleLines.push(m.type() + ': ' + m.text()));
  page.on('pageerror', (e) => page.consoleLines.push('pageerror: ' + e.message));
  pages.set('/chat.html', '<!doctype html><title>Chat</title><h1>The site’s own chat</h1>');
  await page.goto(pages.set(`/${name}.html`, shopPage(engage, { title: name, head: HEAD })));
  await until(page, () => window.lpTag && window.lpTag._engage);
  await page.evaluate(LATE);
  const host = page.locator(`engage-offer[data-engagement-id="${made.engagementId}"]`);
  await host.waitFor({ state: 'attached', timeout: 10000 });
  await until(page, () => lpTag.events.hasFired('LP_OFFERS', 'OFFER_IMPRESSION').length > 0);
  return { context, page, host };
}

test('accept runs the hooks (before and after load, one throwing) and opens the url they give in a new window', async () => {
  const { context, page, host } = await openPage('hooks-open');
  const contextId = await host.getAttribute('data-context-id');
  const [popup] = await Promise.all([context.waitForEvent('page', { timeout: 10000 }), host.locator('[data-action="accept"]').click()]);
  await popup.waitForLoadState();
  const visitorId = await page.evaluate(() => lpTag._engage.visit.visitorId);
  assert.equal(popup.url(), `${pages.origin}/chat.html?engagement=${made.engagementId}&visitor=${visitorId}`);
  assert.equal(await popup.evaluate(() => window.opener), null, 'opened with noopener');

  const seen = await page.evaluate(() => window.seen);
  assert.deepEqual(seen.map((s) => s.hook), ['early', 'late']);
  const [early, late] = seen;
  assert.deepEqual(early.lifecycle, ['START', 'OFFER_DISPLAY', 'OFFER_IMPRESSION', 'OFFER_CLICK'], 'after OFFER_CLICK, before OFFER_REMOVE');
  const d = early.data;
  assert.equal(String(d.engagementId), String(made.engagementId));
  assert.equal(String(d.campaignId), String(made.campaignId));
  assert.equal(d.contextId, contextId);
  assert.equal(d.engagementName, 'Chat toaster');
  assert.equal(d.engagementType, 2);
  assert.equal(d.state, 1);
  assert.deepEqual(d.content, { title: 'Talk to us', body: null, acceptLabel: 'Open chat', closeLabel: null });
  assert.equal(d.visitorId, visitorId);
  assert.equal(d.sessionId, await page.evaluate(() => lpTag._engage.visit.session()));
  assert.equal(d.pageId, await page.evaluate(() => lpTag._engage.tag.pageId));
  assert.equal(d.pageUrl, `${pages.origin}/hooks-open.html`);
  assert.equal(d.url, null);
  assert.equal(d.target, '_blank');
  assert.equal(d.handled, false);
  assert.equal(late.url, `/chat.html?engagement=${made.engagementId}&visitor=${visitorId}`, 'each hook sees the one before');
  assert.ok(page.consoleLines.some((l) => /BEFORE_ENG_CHANNEL_OPEN hook threw/.test(l)));
  assert.deepEqual(page.consoleLines.filter((l) => l.startsWith('pageerror')), []);

  // the lifecycle is as without hooks, on the page and on the server
  assert.equal(await host.count(), 0);
  const mine = (r) => r.filter((x) => JSON.stringify(x).includes(contextId));
  const rows = await engage.waitFor('events', (r) => mine(r).length >= 5);
  assert.deepEqual(mine(rows).map((x) => x.eventName).sort(), ['OFFER_CLICK', 'OFFER_DISPLAY', 'OFFER_IMPRESSION', 'OFFER_REMOVE', 'START']);
  await context.close();
});

test('a hook that opens its own channel and sets handled: no window opens', async () => {
  const { context, page, host } = await openPage('hooks-handled');
  await page.evaluate(() => (window.ownChat = true));
  const contextId = await host.getAttribute('data-context-id');
  let popups = 0;
  context.on('page', () => popups++);
  await host.locator('[data-action="accept"]').click();
  await page.locator('#own-chat').waitFor({ timeout: 5000 });
  assert.equal(await page.locator('#own-chat').textContent(), 'Chat for ' + contextId);
  await page.screenshot({ path: join(OUTPUT, 'hook-own-chat.png') });
  await sleep(1000);
  assert.equal(popups, 0);
  assert.equal(await host.count(), 0);
  await context.close();
});
