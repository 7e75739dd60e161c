// The demo shop (GET /demo/, web/demo/) in Chromium against the real server, set up the
// way web/README.md tells a newcomer to: an account, web/demo-setup.mjs, then browsing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Engage, launch, until, requireTools, OUTPUT, ROOT } from './harness.mjs';

let engage;
let browser;
let demo;

before(async () => {
  requireTools();
  engage = new Engage();
  engage.createAccount('Leaf & Kettle');
  await engage.start();
  const { setupDemo } = await import(join(ROOT, 'web', 'demo-setup.mjs'));
  demo = await setupDemo(engage.url, engage.account, engage.apiKey);
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (engage) await engage.cleanup();
});

const idOf = (type) => String(demo.engagements.find((e) => e.engagementType === type).engagementId);

// Waits for the page's engagement of `type` to be on screen, and screenshots the page.
async function shows(page, type, shot) {
  const host = page.locator(`engage-offer[data-engagement-id="${idOf(type)}"]`);
  await host.waitFor({ state: 'attached', timeout: 10000 });
  await until(page, (id) => lpTag.events.hasFired('LP_OFFERS', 'OFFER_IMPRESSION').some((e) => String(e.data.engagementId) === id), idOf(type));
  await page.waitForTimeout(350);
  await page.screenshot({ path: join(OUTPUT, shot) });
  return host;
}

test('a visit through the demo shop: each page shows its engagement, and the server gets the lifecycle and the SDEs', async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${engage.url}/demo/?site=${engage.account}`);
  const welcome = await shows(page, 5, 'demo-1-home.png');
  assert.equal(await welcome.evaluate((h) => h.parentElement.getAttribute('data-engage-zone')), '1');

  await page.click('text=Browse the shop');
  await shows(page, 6, 'demo-2-catalog.png');
  await page.click('button[data-sku="kettle"]');
  await page.click('button[data-sku="tea-sencha"]');
  assert.match(await page.textContent('#cart-count'), /Cart: 2 items/);

  await page.click('text=Gooseneck kettle');
  await shows(page, 3, 'demo-3-teaware-product.png');
  await page.goto(`${engage.url}/demo/product.html?sku=tea-assam`);
  await shows(page, 0, 'demo-4-tea-product.png');

  await page.goto(`${engage.url}/demo/cart.html`);
  const toaster = await shows(page, 2, 'demo-5-cart.png');
  await toaster.locator('[data-action="accept"]').click();

  await page.click('text=Checkout');
  const overlay = await shows(page, 1, 'demo-6-checkout.png');
  await overlay.locator('[data-action="close"]').click();
  await page.click('#order');
  await page.waitForSelector('text=Thank you', { timeout: 10000 });
  await page.screenshot({ path: join(OUTPUT, 'demo-7-ordered.png') });

  const sdes = await engage.waitFor('sdes', (rows) => rows.some((r) => r.sde.purchase));
  const kinds = new Set(sdes.map((r) => Object.keys(r.sde)[0]));
  for (const k of ['marketingCampaignInfo', 'viewedProduct', 'cartStatus', 'purchase', 'personalInfo']) assert.ok(kinds.has(k), `no ${k} in ${[...kinds]}`);
  const purchase = sdes.find((r) => r.sde.purchase).sde.purchase;
  assert.equal(purchase.total, '91.5'); // the kettle and the sencha
  const events = await engage.waitFor('events', (rows) => rows.some((r) => r.eventName === 'OFFER_DECLINED'));
  const byEngagement = (type, name) => events.some((r) => String(r.data.engagementId) === idOf(type) && r.eventName === name);
  for (const type of [5, 6, 3, 0, 2, 1]) {
    assert.ok(byEngagement(type, 'START'), `START of type ${type}`);
    assert.ok(byEngagement(type, 'OFFER_IMPRESSION'), `OFFER_IMPRESSION of type ${type}`);
  }
  assert.ok(byEngagement(2, 'OFFER_CLICK'));
  assert.ok(byEngagement(1, 'OFFER_DECLINED'));
  assert.deepEqual(engage.export('quarantine'), []);
  assert.deepEqual(errors, []);

  // the overlay is capped at one impression per visitor: a second checkout shows none
  await page.goto(`${engage.url}/demo/checkout.html`);
  await page.waitForFunction(() => window.lpTag && lpTag._engage);
  await page.waitForTimeout(1500);
  assert.equal(await page.locator(`engage-offer[data-engagement-id="${idOf(1)}"]`).count(), 0);
  await context.close();
});

test('without ?site= the demo says how to get an account, and loads no tag', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${engage.url}/demo/`);
  assert.match(await page.textContent('.notice'), /engage account create/);
  assert.equal(await page.evaluate(() => typeof window.lpTag), 'undefined');
  await context.close();
});
