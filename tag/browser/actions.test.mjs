// Engagement actions in Chromium, on engagements made through the real admin API and
// chosen by the real decision route: the tag loads /tag/actions.js only when one shows,
// and each action does what docs/api.md (Engagement actions) says: the form checks its
// input, sends its submission through the outbox (kept when the network fails) and
// thanks, and the server checks it again (a tampered one is refused); the coupon reveals
// and copies its code, each an event the report counts; the link fills its placeholders;
// the chat opens
// the site's widget through its public API, or the BEFORE_ENG_CHANNEL_OPEN hook.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startWorld, stopWorld, shopPage, until, sleep, OUTPUT } from './harness.mjs';

let engage;
let pages;
let browser;
const made = {};

const ACTIONS = {
  form: {
    type: 'form',
    fields: [
      { name: 'name', required: false },
      { name: 'email', required: true, label: 'Work email' },
      { name: 'phone', required: false },
      { name: 'topic', required: true, choices: ['Sales', 'Support'] },
      { name: 'message', required: false },
    ],
    submitLabel: 'Call me back',
    thanks: 'Thanks, we will call you today.',
  },
  coupon: { type: 'coupon', code: 'SPRING-25', copyLabel: 'Copy code' },
  link: { type: 'link', url: '/landing.html?ctx={contextId}&eng={engagementId}', newTab: false },
  chat: { type: 'chat', provider: 'crisp' },
  plain: null,
};

before(async () => {
  ({ engage, pages, browser } = await startWorld('action tests'));
  const campaign = await engage.api('POST', '/api/account/{account}/campaigns', { name: 'Actions' });
  for (const [section, action] of Object.entries(ACTIONS)) {
    const body = {
      name: section + ' engagement',
      engagementType: 2,
      targeting: { sections: { include: [section] } },
      content: { title: 'Offer: ' + section, body: 'An offer', acceptLabel: 'Go' },
    };
    if (section === 'link') {
      // an absolute URL is what the server accepts; the page server is another origin
      action.url = pages.origin + action.url;
    }
    if (action) body.action = action;
    made[section] = await engage.api('POST', `/api/account/{account}/campaigns/${campaign.campaignId}/engagements`, body);
  }
});

after(() => stopWorld({ engage, pages, browser }));

// A page of `section`; `head` runs before the snippet. Answers the page and the
// engagement's host once its impression fired.
async function openPage(section, { head = '', context } = {}) {
  context = context || (await browser.newContext({ viewport: { width: 1100, height: 800 } }));
  const page = await context.newPage();
  page.consoleLines = [];
  page.scripts = [];
  page.on('console', (m) => page.consoleLines.push(m.type() + ': ' + m.text()));
  page.on('pageerror', (e) => page.consoleLines.push('pageerror: ' + e.message));
  page.on('request', (r) => r.resourceType() === 'script' && page.scripts.push(new URL(r.url()).pathname));
  const html = shopPage(engage, {
    title: section,
    head: `window.lpTag = window.lpTag || {}; lpTag.section = [${JSON.stringify(section)}]; window.heard = [];
      ${head}`,
  });
  await page.goto(pages.set(`/${section}-${Math.random().toString(36).slice(2)}.html`, html));
  const host = page.locator(`engage-offer[data-engagement-id="${made[section].engagementId}"]`);
  await host.waitFor({ state: 'attached', timeout: 10000 });
  await until(page, () => lpTag.events.hasFired('LP_OFFERS', 'OFFER_IMPRESSION').length > 0);
  await page.evaluate(() => lpTag.events.bind('ENGAGE_ACTION', '*', (d, i) => window.heard.push({ name: i.eventName, data: d })));
  return { context, page, host, contextId: await host.getAttribute('data-context-id') };
}

const lifecycle = (page) => page.evaluate(() => lpTag.events.hasFired('LP_OFFERS', '*').map((x) => x.eventName));
const noPageErrors = (page) => assert.deepEqual(page.consoleLines.filter((l) => l.startsWith('pageerror')), []);

test('a page without an action never loads the action renderers', async () => {
  const { context, page, host } = await openPage('plain');
  await sleep(300);
  assert.ok(page.scripts.includes('/tag/tag.js'));
  assert.ok(!page.scripts.includes('/tag/actions.js'), page.scripts.join(', '));
  assert.equal(await host.locator('[data-action="accept"]').count(), 1);
  await context.close();
});

test('form: invalid input is shown beside its field; a valid submit sends lead and personal SDEs, thanks, and keeps the lifecycle', async () => {
  const { context, page, host, contextId } = await openPage('form');
  assert.ok(page.scripts.includes('/tag/actions.js'));
  await host.locator('[data-action="accept"]').click();
  const form = host.locator('form');
  await form.waitFor({ timeout: 5000 });
  assert.deepEqual(await lifecycle(page), ['START', 'OFFER_DISPLAY', 'OFFER_IMPRESSION', 'OFFER_CLICK']);
  assert.equal(await host.count(), 1, 'the form stays on the page after the click');
  assert.equal(await host.locator('label[for="f-email"]').evaluate((l) => l.firstChild.textContent), 'Work email *');

  // Nothing filled: the two required fields say so; a bad email and phone say why.
  await host.locator('[data-action="submit"]').click();
  assert.equal(await host.locator('#f-email-err').textContent(), 'required');
  assert.equal(await host.locator('#f-topic-err').textContent(), 'required');
  assert.equal(await host.locator('#f-name-err').textContent(), '');
  assert.equal(await host.locator('#f-email').getAttribute('aria-invalid'), 'true');
  await host.locator('#f-email').fill('not an email');
  await host.locator('#f-phone').fill('call me maybe');
  await host.locator('#f-topic').selectOption('Support');
  await host.locator('[data-action="submit"]').click();
  assert.match(await host.locator('#f-email-err').textContent(), /email address/);
  assert.match(await host.locator('#f-phone-err').textContent(), /phone number/);
  assert.equal(await host.locator('#f-topic-err').textContent(), '');
  await page.screenshot({ path: join(OUTPUT, 'action-form-invalid.png') });
  assert.equal(await page.evaluate(() => lpTag.sdes.get('lead')), undefined, 'nothing is sent while invalid');

  await host.locator('#f-name').fill('Ada  Lovelace');
  await host.locator('#f-email').fill('ada@example.com');
  await host.locator('#f-phone').fill('+44 20 7946 0000');
  await host.locator('#f-message').fill('Please call after 3pm');
  await host.locator('[data-action="submit"]').click();
  await host.locator('[data-thanks]').waitFor({ timeout: 5000 });
  assert.equal(await host.locator('[data-thanks]').textContent(), 'Thanks, we will call you today.');
  await page.screenshot({ path: join(OUTPUT, 'action-form-thanks.png') });
  const heard = await page.evaluate(() => window.heard);
  assert.deepEqual(heard.map((h) => h.name), ['LEAD_SUBMITTED']);
  assert.equal(heard[0].data.contextId, contextId);
  // The page holds the SDEs the server makes of the submission, as if it had pushed them.
  const held = await page.evaluate(() => lpTag.sdes.get('lead'));
  assert.equal(held[0].lead.leadId, contextId);
  assert.equal(held[0].lead.topic, 'Support: Please call after 3pm');

  const rows = await engage.waitFor('sdes', (r) => r.length >= 2);
  const lead = rows.find((r) => JSON.stringify(r).includes('"lead"'));
  const personal = rows.find((r) => JSON.stringify(r).includes('personalInfo'));
  assert.ok(lead && personal, JSON.stringify(rows));
  const text = JSON.stringify(rows);
  assert.match(text, /Support: Please call after 3pm/);
  assert.ok(text.includes(contextId), 'the lead carries its engagement context as its id');
  assert.match(text, /ada@example\.com/);
  assert.match(text, /Lovelace/);
  assert.match(text, /\+44 20 7946 0000/);

  // Closing after the thanks is not a decline: the card goes, OFFER_REMOVE follows.
  await host.locator('[data-action="close"]').click();
  assert.equal(await host.count(), 0);
  assert.deepEqual(await lifecycle(page), ['START', 'OFFER_DISPLAY', 'OFFER_IMPRESSION', 'OFFER_CLICK', 'OFFER_REMOVE']);
  noPageErrors(page);
  await context.close();
});

test('form: a lead submitted while the network fails waits in the outbox and arrives once it is back', async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const { page, host } = await openPage('form', { context });
  await host.locator('[data-action="accept"]').click();
  await context.route('**/api/account/*/events', (route) => route.abort('internetdisconnected'));
  await host.locator('#f-email').fill('offline@example.com');
  await host.locator('#f-topic').selectOption('Sales');
  await host.locator('[data-action="submit"]').click();
  await host.locator('[data-thanks]').waitFor({ timeout: 5000 });
  await sleep(1500);
  const stored = await page.evaluate(() =>
    Object.keys(localStorage)
      .filter((k) => k.startsWith('_engage_q_'))
      .map((k) => localStorage.getItem(k))
      .join('')
  );
  assert.match(stored, /offline@example\.com/, 'the lead is in the stored outbox');
  assert.ok(!JSON.stringify(engage.export('sdes')).includes('offline@example.com'));

  await context.unroute('**/api/account/*/events');
  await page.evaluate(() => lpTag._engage.flush());
  const rows = await engage.waitFor('sdes', (r) => JSON.stringify(r).includes('offline@example.com'));
  assert.ok(JSON.stringify(rows).includes('offline@example.com'));
  assert.equal(rows.filter((r) => JSON.stringify(r).includes('offline@example.com')).length, 1, 'stored once');
  await context.close();
});

test('form: a submission tampered with after the page checked it is refused by the server and quarantined', async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const { page, host, contextId } = await openPage('form', { context });
  await host.locator('[data-action="accept"]').click();
  // What a visitor editing the request in their browser's tools sends: the page's check
  // passed, the values that reach the server are others.
  let tampered = 0;
  await context.route('**/api/account/*/events', (route) => {
    const body = JSON.parse(route.request().postData());
    for (const item of body.sdes || []) {
      if (item.form) {
        item.form.values.topic = 'Free money';
        item.form.values.email = 'not-an-email';
        item.form.values.fax = '555';
        tampered++;
      }
    }
    return route.continue({ postData: JSON.stringify(body) });
  });
  await host.locator('#f-email').fill('mallory@example.com');
  await host.locator('#f-topic').selectOption('Sales');
  await host.locator('[data-action="submit"]').click();
  await host.locator('[data-thanks]').waitFor({ timeout: 5000 });
  const rows = await engage.waitFor('quarantine', (r) => r.some((q) => JSON.stringify(q).includes(contextId)));
  const entry = rows.find((q) => JSON.stringify(q).includes(contextId));
  assert.ok(tampered >= 1);
  assert.deepEqual(entry.errors.map((e) => e.path), ['/sdes/0/form/values/email', '/sdes/0/form/values/topic', '/sdes/0/form/values/fax']);
  await sleep(300);
  assert.ok(
    page.consoleLines.some((l) => /refused a batch \(400\)/.test(l)),
    'the tag hears the refusal: ' + page.consoleLines.join('\n')
  );
  assert.ok(!JSON.stringify(engage.export('sdes')).includes(contextId), 'no lead is stored for it');
  await context.close();
});

test('coupon: the click reveals the code, copying puts it on the clipboard, both are events', async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: pages.origin });
  const { page, host, contextId } = await openPage('coupon', { context });
  assert.equal(await host.locator('[data-coupon]').count(), 0, 'hidden before the click');
  await host.locator('[data-action="accept"]').click();
  await host.locator('[data-coupon]').waitFor({ timeout: 5000 });
  assert.equal(await host.locator('[data-coupon]').textContent(), 'SPRING-25');
  assert.equal(await host.locator('[data-action="copy"]').textContent(), 'Copy code');
  await host.locator('[data-action="copy"]').click();
  await until(page, () => window.heard.length >= 2);
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), 'SPRING-25');
  assert.equal(await host.locator('[data-action="copy"]').textContent(), 'Copied');
  await page.screenshot({ path: join(OUTPUT, 'action-coupon.png') });
  const heard = await page.evaluate(() => window.heard);
  assert.deepEqual(heard.map((h) => [h.name, h.data.code, h.data.contextId]), [
    ['COUPON_REVEALED', 'SPRING-25', contextId],
    ['COUPON_COPIED', 'SPRING-25', contextId],
  ]);
  await host.locator('[data-action="close"]').click();
  // Pages bound to LP_OFFERS see LivePerson's lifecycle: the reveal is the click.
  assert.deepEqual(await lifecycle(page), ['START', 'OFFER_DISPLAY', 'OFFER_IMPRESSION', 'OFFER_CLICK', 'OFFER_REMOVE']);
  // The server stores the reveal and the copy as events of their own (ENGAGE_ACTION).
  const mine = (r) => r.filter((x) => JSON.stringify(x).includes(contextId));
  const rows = await engage.waitFor('events', (r) => mine(r).length >= 7);
  assert.deepEqual(mine(rows).map((x) => x.eventName).sort(), [
    'COUPON_COPIED',
    'COUPON_REVEALED',
    'OFFER_CLICK',
    'OFFER_DISPLAY',
    'OFFER_IMPRESSION',
    'OFFER_REMOVE',
    'START',
  ]);
  assert.equal(mine(rows).find((x) => x.eventName === 'COUPON_REVEALED').appName, 'ENGAGE_ACTION');
  // And the report counts them apart from the click (this browser says HeadlessChrome, so
  // its visit is a bot's: the report is asked to include bots).
  const now = Date.now();
  const report = await engage.api('POST', '/api/account/{account}/analytics/report', {
    from: now - 86400000,
    to: now + 86400000,
    groupBy: ['engagement'],
    includeBots: true,
  });
  const row = report.rows.find((r) => r.engagementId === made.coupon.engagementId);
  assert.ok(row, JSON.stringify(report));
  assert.deepEqual([row.clicks, row.couponReveals, row.couponCopies], [1, 1, 1], JSON.stringify(row));
  noPageErrors(page);
  await context.close();
});

test('link: the accept button goes to the URL with {contextId} and {engagementId} filled in', async () => {
  pages.set('/landing.html', '<!doctype html><title>Landing</title><h1>Landing page</h1>');
  const { page, host, contextId } = await openPage('link', {
    head: `lpTag.hooks = [{name: 'BEFORE_ENG_CHANNEL_OPEN', callback: function (o) { sessionStorage.hookUrl = o.data.url; return o; }}];`,
  });
  await Promise.all([page.waitForURL(/\/landing\.html/, { timeout: 10000 }), host.locator('[data-action="accept"]').click()]);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('ctx'), contextId);
  assert.equal(url.searchParams.get('eng'), String(made.link.engagementId));
  assert.equal(await page.evaluate(() => sessionStorage.hookUrl), page.url(), 'the hook saw the filled-in URL');
  await page.context().close();
});

test('chat: without the widget on the page the hook opens the channel; with it, its public API opens it', async () => {
  // No $crisp on the page: BEFORE_ENG_CHANNEL_OPEN gets the engagement and takes over.
  const hooked = await openPage('chat', {
    head: `window.opened = [];
      lpTag.hooks = [{name: 'BEFORE_ENG_CHANNEL_OPEN', callback: function (o) { opened.push({by: 'hook', contextId: o.data.contextId}); o.data.handled = true; return o; }}];`,
  });
  await hooked.host.locator('[data-action="accept"]').click();
  await until(hooked.page, () => window.opened.length > 0);
  assert.deepEqual(await hooked.page.evaluate(() => window.opened), [{ by: 'hook', contextId: hooked.contextId }]);
  assert.equal(await hooked.host.count(), 0);
  await hooked.context.close();

  // A stand-in Crisp: the global its snippet defines, recording what is pushed.
  const widget = await openPage('chat', {
    head: `window.opened = []; window.$crisp = []; window.$crisp.push = function (cmd) { opened.push({by: 'crisp', cmd: cmd}); return Array.prototype.push.call(this, cmd); };
      lpTag.hooks = [{name: 'BEFORE_ENG_CHANNEL_OPEN', callback: function (o) { opened.push({by: 'hook'}); return o; }}];`,
  });
  await widget.host.locator('[data-action="accept"]').click();
  await until(widget.page, () => window.opened.length > 0);
  await sleep(200);
  assert.deepEqual(await widget.page.evaluate(() => window.opened), [{ by: 'crisp', cmd: ['do', 'chat:open'] }]);
  assert.deepEqual(await lifecycle(widget.page), ['START', 'OFFER_DISPLAY', 'OFFER_IMPRESSION', 'OFFER_CLICK', 'OFFER_REMOVE']);
  noPageErrors(widget.page);
  await widget.context.close();
});
