// The console (/console/) in Chromium against the real server, walked as its users walk
// it: sign in, create a campaign and an engagement (an invalid one first: the server's
// error shows beside its field), see the engagement on the demo shop and click it, find
// that visitor in History with the cart as a table, replay the quarantine, manage
// settings, sign out. Every screen is checked with axe-core (no serious or critical
// violation), at 1280x800 and on a 390-pixel-wide phone, and photographed. No page may log an error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Engage, launch, requireTools, ROOT, OUTPUT, until } from './harness.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
// docs/console/ keeps the screenshots the docs show: ENGAGE_CONSOLE_SHOTS=docs writes
// them there; other runs write them beside the other browser tests' output.
const SHOTS = process.env.ENGAGE_CONSOLE_SHOTS === 'docs' ? join(ROOT, 'docs', 'console') : join(OUTPUT, 'console');

let engage;
let browser;

before(async () => {
  requireTools();
  mkdirSync(SHOTS, { recursive: true });
  engage = new Engage();
  engage.createAccount('Leaf & Kettle');
  await engage.start();
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (engage) await engage.cleanup();
});

// Errors a page logs, but those `expected` names (a 400 the test provokes on purpose).
function watch(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push('pageerror: ' + e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push('console: ' + m.text() + ' (' + m.location().url + ')');
  });
  return errors;
}

// axe-core on the page as it is: no serious or critical violation. Evaluated through the
// debugger, not a <script>, so the page's CSP stays as strict as users get it.
async function accessible(page, screen) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    [],
    `axe on ${screen}`
  );
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, name + '.png'), fullPage: true });
}

async function signIn(page) {
  await page.goto(engage.url + '/console/');
  await page.getByLabel('Account ID').fill(engage.account);
  await page.getByLabel('API key').fill(engage.apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
}

// A person's browser, as the bot rules see it (this one says HeadlessChrome): the shop's
// visitors, driven from here, must count in the figures.
const PERSON = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

const nav = (page, name) => page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name, exact: true });

test('a marketer signs in, makes a campaign and an engagement, sees it clicked on the shop, finds the visitor in History, replays the quarantine and signs out', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'de-DE', timezoneId: 'Europe/Berlin' });
  const page = await context.newPage();
  const errors = watch(page);

  // Sign in.
  await page.goto(engage.url + '/console/campaigns');
  assert.match(page.url(), /\/console\/sign-in$/);
  await page.getByRole('heading', { name: 'Sign in to Engage' }).waitFor();
  await accessible(page, 'sign-in');
  await shot(page, 'sign-in');
  await signIn(page);
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'engage_console');
  assert.ok(session && session.httpOnly && session.sameSite === 'Strict' && session.expires > 0, JSON.stringify(session));
  // The key is nowhere the page's scripts can reach.
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie + document.documentElement.outerHTML);
  assert.ok(!stored.includes(engage.apiKey), 'the API key is in the page or its storage');
  for (const name of ['Overview', 'Campaigns', 'Results', 'History', 'Quarantine', 'Settings']) await nav(page, name).waitFor();
  await accessible(page, 'overview');

  // A campaign.
  await nav(page, 'Campaigns').click();
  await page.getByRole('heading', { level: 1, name: 'Campaigns' }).waitFor();
  await page.getByLabel('Name').fill('Winter tea');
  await page.getByLabel('Goal').fill('Sell more tea');
  await page.getByLabel('Priority').fill('1500');
  await page.getByRole('button', { name: 'Create campaign' }).click();
  await page.getByRole('heading', { level: 1, name: /Winter tea/ }).waitFor();
  const campaignId = page.url().split('/').pop();
  // The priority was written for the browser's locale (German: 1.500).
  await nav(page, 'Campaigns').click();
  const row = page.getByRole('row', { name: /Winter tea/ });
  await until(page, () => document.querySelector('tbody data.num') && document.querySelector('tbody data.num').textContent === '1.500');
  assert.match(await row.textContent(), /Enabled/);
  await accessible(page, 'campaigns');
  await shot(page, 'campaigns');
  // Disable, then enable again, from the list.
  await row.getByRole('button', { name: 'Disable Winter tea' }).click();
  await page.getByRole('button', { name: 'Enable Winter tea' }).waitFor();
  assert.match(await page.getByRole('row', { name: /Winter tea/ }).textContent(), /Disabled/);
  await page.getByRole('button', { name: 'Enable Winter tea' }).click();
  await page.getByRole('button', { name: 'Disable Winter tea' }).waitFor();

  // An engagement: first with a broken regular expression, which the server refuses.
  await page.getByRole('link', { name: 'Winter tea' }).click();
  await page.getByRole('link', { name: 'New engagement' }).click();
  await page.getByRole('heading', { level: 1, name: 'New engagement' }).waitFor();
  await page.getByLabel('Name', { exact: true }).fill('Winter tea toaster');
  await page.getByLabel('Type').selectOption({ label: 'Toaster' });
  await page.getByLabel('Title').fill('Winter teas are in');
  await page.getByLabel('Text').fill('Ten per cent off every Assam until Sunday.');
  await page.getByLabel('Button label').fill('Show me');
  await page.getByLabel('Page sections (any of)').fill('home');
  await page.getByRole('button', { name: 'Add URL rule' }).click();
  const urlRow = page.locator('[data-list="/targeting/url/include"] [data-row]');
  await urlRow.getByLabel('How the URL is matched').selectOption('regex');
  await urlRow.getByLabel('URL text').fill('(unclosed');
  // The live preview is the tag's renderer: the toaster with its title, in the pane.
  const preview = page.locator('#preview engage-offer[data-engagement-type="2"]');
  await preview.waitFor({ state: 'attached' });
  assert.match(await preview.locator('strong').textContent(), /Winter teas are in/);
  assert.equal(await preview.locator('[data-action="accept"]').textContent(), 'Show me');
  await page.getByLabel('Type').selectOption({ label: 'Overlay' });
  await page.locator('#preview engage-offer[data-engagement-type="1"]').waitFor({ state: 'attached' });
  await page.getByLabel('Type').selectOption({ label: 'Toaster' });
  const provoked = errors.length;
  await page.getByRole('button', { name: 'Create engagement' }).click();
  const problem = page.locator('.field-error', { hasText: '/targeting/url/include/0/regex' });
  await problem.waitFor();
  assert.match(await problem.textContent(), /regular expression/);
  // Beside the rule it names, and the field says it is invalid.
  assert.equal(await urlRow.getByLabel('URL text').getAttribute('aria-invalid'), 'true');
  await accessible(page, 'engagement editor with an error');
  await shot(page, 'engagement-error');
  // The browser logs the refused request (400): that one is expected.
  errors.splice(provoked).forEach((e) => assert.match(e, /status of 400/));

  await urlRow.getByLabel('How the URL is matched').selectOption('contains');
  await urlRow.getByLabel('URL text').fill('/demo/');
  await page.getByRole('button', { name: 'Create engagement' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved: revision 1 is live.' }).waitFor();
  const engagementId = new URL(page.url()).pathname.split('/').pop();
  await page.getByRole('heading', { name: 'Revision history' }).waitFor();
  await accessible(page, 'engagement');
  await shot(page, 'engagement');

  // An action missing its required member: the error beside that field, by its pointer.
  await page.getByLabel('Accept button').selectOption('coupon');
  await page.getByLabel('Coupon code').waitFor();
  const refusedAt = errors.length;
  await page.getByRole('button', { name: 'Save new revision' }).click();
  const missing = page.locator('.field-error', { hasText: '/action/code' });
  await missing.waitFor();
  assert.equal(await page.getByLabel('Coupon code').getAttribute('aria-invalid'), 'true');
  errors.splice(refusedAt).forEach((e) => assert.match(e, /status of 400/));
  await page.getByLabel('Accept button').selectOption('');
  assert.equal(await page.getByLabel('Coupon code').isVisible(), false);

  // A second revision: saving shows it.
  await page.getByLabel('Title').fill('Winter teas are here');
  await page.getByRole('button', { name: 'Save new revision' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved: revision 2 is live.' }).waitFor();
  assert.equal(await page.locator('section[aria-labelledby="revisions"] tbody tr').count(), 2);

  // The demo shop shows it; the visitor (in a browser of their own) clicks it and puts a
  // kettle in the cart.
  const visitorBrowser = await launch({ userAgent: PERSON });
  const shop = await (await visitorBrowser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  const shopErrors = watch(shop);
  await shop.goto(`${engage.url}/demo/?site=${engage.account}`);
  const offer = shop.locator(`engage-offer[data-engagement-id="${engagementId}"]`);
  await offer.waitFor({ state: 'attached', timeout: 15000 });
  assert.match(await offer.locator('strong').textContent(), /Winter teas are here/);
  await until(shop, () => lpTag.events.hasFired('LP_OFFERS', 'OFFER_IMPRESSION').length > 0);
  await shot(shop, 'demo-shop');
  await offer.locator('[data-action="accept"]').click();
  const visitorId = await shop.evaluate(() => lpTag._engage.visit.visitorId);
  await shop.goto(`${engage.url}/demo/products.html`);
  await shop.click('button[data-sku="kettle"]');
  await shop.goto(`${engage.url}/demo/cart.html`);
  await engage.waitFor('sdes', (rows) => rows.some((r) => r.sde.cartStatus));
  await engage.waitFor('events', (rows) => rows.some((r) => r.eventName === 'OFFER_CLICK'));
  assert.deepEqual(shopErrors, []);
  await visitorBrowser.close();

  // History: that visitor's interaction, clicked; its detail with the timeline and cart.
  await nav(page, 'History').click();
  await page.getByRole('heading', { level: 1, name: 'History' }).waitFor();
  await page.getByLabel('Visitor ID').fill(visitorId);
  await page.getByRole('button', { name: 'Search' }).click();
  const found = page.getByRole('row', { name: /Winter tea toaster/ });
  await found.waitFor();
  assert.match(await found.textContent(), /Clicked/);
  await accessible(page, 'history');
  await shot(page, 'history');
  await found.getByRole('link', { name: /Details/ }).click();
  await page.getByRole('heading', { name: 'LP_OFFERS timeline' }).waitFor();
  const timeline = await page.locator('ol.timeline').textContent();
  for (const name of ['START', 'OFFER_DISPLAY', 'OFFER_IMPRESSION', 'OFFER_CLICK']) assert.ok(timeline.includes(name), `${name} in ${timeline}`);
  const products = page.locator('table', { has: page.locator('caption', { hasText: 'Products' }) });
  await products.first().waitFor();
  assert.match(await products.first().textContent(), /Gooseneck kettle/);
  await accessible(page, 'interaction');
  await shot(page, 'interaction');

  // Quarantine: an event the tag could not have sent (engagement type 4), then replay.
  const bad = await fetch(`${engage.url}/api/account/${engage.account}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      visitorId: 'v-q',
      sessionId: 's-q',
      pageId: 'p-q',
      events: [{ id: 'e-q', time: Date.now(), appName: 'LP_OFFERS', eventName: 'START', data: { engagementType: 4 } }],
    }),
  });
  assert.equal(bad.status, 200);
  await nav(page, 'Quarantine').click();
  await page.getByRole('heading', { level: 1, name: 'Quarantine' }).waitFor();
  const entry = page.locator('article.quarantined').first();
  assert.match(await entry.locator('.errors').textContent(), /\/events\/0\/data/);
  assert.match(await entry.locator('pre').textContent(), /"engagementType": 4/);
  await accessible(page, 'quarantine');
  await shot(page, 'quarantine');
  await page.getByRole('button', { name: 'Replay pending entries' }).click();
  const replayed = page.locator('#replay-result');
  await replayed.waitFor();
  assert.match(await replayed.textContent(), /Replayed 0 of 1 entries: 0 items stored, 0 already stored, 1 still invalid/);

  // Settings: the snippet with the account, a key made and revoked, origins saved.
  await nav(page, 'Settings').click();
  await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
  const snippet = await page.locator('#snippet-code').textContent();
  assert.ok(snippet.includes(`'${engage.account}'`) && snippet.includes(`${engage.url}/tag/tag.js`), snippet);
  await page.getByRole('button', { name: 'Create a key' }).click();
  await page.locator('#new-key dl').waitFor();
  const appKey = await page.locator('#new-key dd code').first().textContent();
  assert.match(appKey, /^[0-9a-f]{32}$/);
  await accessible(page, 'settings');
  await shot(page, 'settings');
  await page.reload();
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: `Revoke key ${appKey}` }).click();
  await page.getByText('No keys yet.').waitFor();
  await page.getByRole('textbox', { name: 'Origins' }).fill(engage.url);
  await page.getByRole('button', { name: 'Save origins' }).click();
  await page.waitForURL(/saved=origins/);
  assert.equal(await page.getByRole('textbox', { name: 'Origins' }).inputValue(), engage.url);
  // Retention: the browser itself refuses 0 days, then 90 days is kept, then for ever.
  const days = page.getByRole('spinbutton', { name: 'Days kept' });
  await days.fill('0');
  await page.getByRole('button', { name: 'Save retention' }).click();
  assert.equal(await days.evaluate((e) => e.validity.rangeUnderflow), true);
  assert.doesNotMatch(page.url(), /saved=retention/);
  await days.fill('90');
  await page.getByRole('button', { name: 'Save retention' }).click();
  await page.waitForURL(/saved=retention/);
  assert.equal(await page.getByRole('spinbutton', { name: 'Days kept' }).inputValue(), '90');
  const kept = await fetch(`${engage.url}/api/account/${engage.account}/retention`, { headers: { authorization: `Bearer ${engage.apiKey}` } });
  assert.deepEqual(await kept.json(), { days: 90 });
  await page.getByRole('spinbutton', { name: 'Days kept' }).fill('');
  await page.getByRole('button', { name: 'Save retention' }).click();
  await page.getByText('Now: kept for ever.').waitFor();

  // Overview: the shop's impression and click in today's figures, and the chart.
  await nav(page, 'Overview').click();
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  const figure = (name) => page.locator(`[data-figure="${name}"] .value data`).getAttribute('value');
  assert.ok(Number(await figure('Impressions')) >= 1, 'an impression on Overview');
  assert.ok(Number(await figure('Clicks')) >= 1, 'a click on Overview');
  assert.equal(await page.locator('[data-chart="overview"] svg polyline').count(), 3);
  // Its days are the browser's (console.js told the server the zone at sign-in).
  assert.equal(await page.locator('[data-zone]').textContent(), 'Europe/Berlin');
  await page.getByRole('row', { name: /Winter tea toaster/ }).waitFor();
  await accessible(page, 'overview');
  await shot(page, 'overview');

  // Results: the campaign's impression and click, and the funnel from them.
  await nav(page, 'Results').click();
  await page.getByRole('heading', { level: 1, name: 'Results' }).waitFor();
  const exposed = page.locator('table[data-campaign]').first();
  assert.ok(Number(await exposed.locator('td[data-figure="impressions"] data').getAttribute('value')) >= 1, 'an impression on Results');
  assert.ok(Number(await exposed.locator('td[data-figure="clicks"] data').getAttribute('value')) >= 1, 'a click on Results');
  assert.match(await page.locator('ol.funnel').textContent(), /impression: 1 visitor\s*click: 1 visitor/);
  assert.equal(await page.locator('[data-chart="funnel"] svg rect[data-bar]').count(), 4);
  await accessible(page, 'results');
  await shot(page, 'results');

  // Sign out: the session ends on the server; the console asks to sign in again.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to Engage' }).waitFor();
  await page.goto(engage.url + '/console/campaigns');
  assert.match(page.url(), /\/console\/sign-in$/);
  // The old cookie, put back, signs nobody in.
  await context.addCookies([session]);
  await page.goto(engage.url + '/console/');
  assert.match(page.url(), /\/console\/sign-in$/);

  assert.deepEqual(errors, []);
  await context.close();
});

async function publicPost(path, body) {
  const r = await fetch(engage.url + path.replace('{account}', engage.account), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': PERSON },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  assert.equal(r.status, 200, `${path}: ${text}`);
  return JSON.parse(text);
}

test('Results shows the lift of a campaign with a control group, in the browser zone and locale', async () => {
  // A campaign that holds half its visitors out, and one engagement on the 'lift' section.
  const campaign = await engage.api('POST', '/api/account/{account}/campaigns', { name: 'Control tea', priority: 5, controlGroupPercent: 50, attributionWindowDays: 7 });
  const made = await engage.api('POST', `/api/account/{account}/campaigns/${campaign.campaignId}/engagements`, {
    name: 'Control tea banner',
    engagementType: 5,
    targeting: { sections: { include: ['lift'] } },
    content: { title: 'Tea for the exposed' },
  });
  // Sixty visitors ask the decision route: those it shows the banner to are exposed (they
  // report its impression), the others are held out, the control.
  const exposed = [];
  const control = [];
  for (let i = 0; i < 60; i++) {
    const visitorId = `lift-${i}`;
    const sessionId = `lift-${i}-s`;
    const answer = await publicPost('/api/account/{account}/decision', { visitorId, sessionId, pageId: `${sessionId}-p`, url: 'https://shop.example/tea', sections: ['lift'] });
    const shown = answer.engagements.find((e) => e.engagementId === made.engagementId);
    if (!shown) {
      control.push(visitorId);
      continue;
    }
    exposed.push(visitorId);
    await publicPost('/api/account/{account}/events', {
      visitorId,
      sessionId,
      pageId: `${sessionId}-p`,
      events: [
        {
          id: `${visitorId}-imp`,
          time: Date.now(),
          appName: 'LP_OFFERS',
          eventName: 'OFFER_IMPRESSION',
          data: {
            contexts: [{ EngagementContext: { id: shown.contextId } }, { pageContext: { id: `${sessionId}-p` } }],
            campaignId: shown.campaignId,
            engagementId: shown.engagementId,
            engagementRevision: shown.engagementRevision,
            engagementType: shown.engagementType,
            contextId: shown.contextId,
            confKey: shown.confKey,
          },
        },
      ],
      sdes: [],
    });
  }
  assert.ok(exposed.length >= 15 && control.length >= 15, `exposed ${exposed.length}, control ${control.length}`);
  // Every other exposed visitor buys; one control visitor does.
  const buyers = [...exposed.filter((_, i) => i % 2 === 0), control[0]];
  for (const visitorId of buyers) {
    await publicPost('/api/account/{account}/events', {
      visitorId,
      sessionId: `${visitorId}-s`,
      pageId: `${visitorId}-s-p2`,
      events: [],
      sdes: [{ id: `${visitorId}-buy`, sde: { type: 'purchase', total: '20.00', currency: 'EUR', orderId: `o-${visitorId}` } }],
    });
  }
  // What the report must say (docs/analytics.md): the rates, lift and its Katz interval,
  // and the pooled two-proportion z-test.
  const [n1, x1, n2, x2] = [exposed.length, Math.ceil(exposed.length / 2), control.length, 1];
  const ratio = x1 / n1 / (x2 / n2);
  const se = Math.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2);
  const Z_95 = 1.959963984540054; // the report's 1.96, to the digits it uses
  const lift = { value: ratio - 1, low: Math.exp(Math.log(ratio) - Z_95 * se) - 1, high: Math.exp(Math.log(ratio) + Z_95 * se) - 1 };
  const pooled = (x1 + x2) / (n1 + n2);
  const z = (x1 / n1 - x2 / n2) / Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  assert.ok(Math.abs(z) >= 1.96, `the scenario is significant: z = ${z}`);

  // A marketer in Kiritimati (UTC+14) with a German browser opens Results for the campaign.
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'de-DE', timezoneId: 'Pacific/Kiritimati' });
  const page = await context.newPage();
  const errors = watch(page);
  await signIn(page);
  await nav(page, 'Results').click();
  await page.getByRole('heading', { level: 1, name: 'Results' }).waitFor();
  await page.getByLabel('Campaign', { exact: true }).selectOption({ label: 'Control tea' });
  await page.getByRole('button', { name: 'Show' }).click();
  await page.waitForURL(new RegExp(`campaign=${campaign.campaignId}`));
  // The days are the browser's: its zone is named, and the period ends with its today.
  assert.equal(await page.locator('[data-zone]').textContent(), 'Pacific/Kiritimati');

  const table = page.locator(`table[data-campaign="${campaign.campaignId}"]`);
  const cells = async (group) => (await table.getByRole('row', { name: new RegExp(`^${group}`) }).locator('td').allTextContents()).map((t) => t.trim());
  const de = new Intl.NumberFormat('de-DE', { maximumFractionDigits: 2 });
  const pct = (v) => de.format(v * 100) + ' %';
  await until(page, () => document.querySelector('p.lift data.num') && / %$/.test(document.querySelector('p.lift data.num').textContent));
  const exposedRow = await cells('Exposed');
  const controlRow = await cells('Control');
  assert.deepEqual([exposedRow[0], exposedRow[1], exposedRow[3]], [de.format(n1), de.format(n1), de.format(x1)], `exposed row ${exposedRow}`);
  assert.equal(exposedRow[4], pct(x1 / n1));
  assert.deepEqual([controlRow[0], controlRow[3], controlRow[4]], [de.format(n2), de.format(x2), pct(x2 / n2)], `control row ${controlRow}`);
  // The lift, its interval and the significance, as the page shows them.
  const shown = (await page.locator('p.lift').textContent()).replace(/\s+/g, ' ').trim();
  const esc = (t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  assert.match(shown, new RegExp(`^Lift: ${esc(pct(lift.value))} · 95% interval: ${esc(pct(lift.low))} to ${esc(pct(lift.high))} · significant: yes \\(p = 0\\.0\\d\\d\\)$`), shown);
  const values = await page.locator('p.lift data.num').evaluateAll((ds) => ds.map((d) => Number(d.value)));
  for (const [got, want] of values.map((v, i) => [v, [lift.value, lift.low, lift.high][i]])) assert.ok(Math.abs(got - want) < 1e-6, `${values} against ${JSON.stringify(lift)}`);
  await accessible(page, 'results with a control group');
  await shot(page, 'results-lift');

  // A zone cookie that names another zone (the laptop travelled): the page is drawn
  // again, once, in the browser's zone.
  await context.addCookies([{ name: 'engage_tz', value: 'UTC', domain: '127.0.0.1', path: '/console' }]);
  await nav(page, 'Overview').click();
  await until(page, () => document.querySelector('[data-zone]') && document.querySelector('[data-zone]').textContent === 'Pacific/Kiritimati');
  assert.ok((await context.cookies()).some((c) => c.name === 'engage_tz' && c.value === 'Pacific/Kiritimati'));

  // Overview, in the same zone: today's chart is by Kiritimati's hours.
  await page.getByRole('radio', { name: 'Today' }).check();
  await page.getByRole('button', { name: 'Show' }).click();
  await page.waitForURL(/period=today/);
  const hour = await page.evaluate(() => new Intl.DateTimeFormat('en-GB', { hour: '2-digit', hourCycle: 'h23', timeZone: 'Pacific/Kiritimati' }).format(new Date()));
  const title = await page.locator('[data-chart="overview"] svg > title').textContent();
  assert.equal(title, 'Visitors, impressions and clicks by hour (Pacific/Kiritimati)');
  const points = await page.locator('[data-chart="overview"] circle title').allTextContents();
  assert.ok(points.some((t) => t.startsWith(`Impressions, ${hour}:00: `) && Number(t.split(': ').pop()) >= n1), `${hour}:00 in ${points.join(' | ')}`);
  assert.deepEqual(errors, []);
  await context.close();
});

test('on a 390-pixel phone every screen fits and passes axe', async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const page = await context.newPage();
  const errors = watch(page);
  await signIn(page);
  for (const [name, path] of [
    ['overview', '/console/'],
    ['campaigns', '/console/campaigns'],
    ['results', '/console/results'],
    ['history', '/console/history'],
    ['quarantine', '/console/quarantine'],
    ['settings', '/console/settings'],
  ]) {
    await page.goto(engage.url + path);
    await page.getByRole('heading', { level: 1 }).first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${name} is ${overflow} px wider than the phone`);
    await accessible(page, `${name} on a phone`);
    await shot(page, `phone-${name}`);
  }
  // The engagement editor of the campaign the first test made.
  await page.goto(engage.url + '/console/campaigns');
  const editor = await page.evaluate(() => document.querySelector('a[href^="/console/campaigns/"]')?.getAttribute('href'));
  assert.ok(editor, 'a campaign to open');
  {
    await page.goto(engage.url + editor);
    await page.getByRole('link', { name: 'New engagement' }).click();
    await page.locator('#preview engage-offer').waitFor({ state: 'attached' });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the editor is ${overflow} px wider than the phone`);
    await accessible(page, 'editor on a phone');
    await shot(page, 'phone-engagement-editor');
  }
  assert.deepEqual(errors, []);
  await context.close();
});

test('keyboard only: sign in, reach Campaigns, create a campaign', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors = watch(page);
  await page.goto(engage.url + '/console/sign-in');
  const focused = () => page.evaluate(() => document.activeElement && (document.activeElement.labels?.[0]?.textContent || document.activeElement.textContent).trim());
  // Tab to the first field, type, tab on, type, Enter.
  for (let i = 0; i < 10 && (await focused()) !== 'Account ID'; i++) await page.keyboard.press('Tab');
  assert.equal(await focused(), 'Account ID');
  await page.keyboard.type(engage.account);
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'API key');
  await page.keyboard.type(engage.apiKey);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
  // The skip link comes first, then the navigation.
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'Skip to content');
  for (let i = 0; i < 10 && (await focused()) !== 'Campaigns'; i++) await page.keyboard.press('Tab');
  assert.equal(await focused(), 'Campaigns');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Campaigns' }).waitFor();
  await page.getByLabel('Name').focus();
  await page.keyboard.type('Typed by keyboard');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: /Typed by keyboard/ }).waitFor();
  assert.deepEqual(errors, []);
  await context.close();
});
