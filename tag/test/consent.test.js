// The consent gate: lpTag.consent (or lpTag.ovr.consent) = 'required' before load, then
// lpTag.consent.grant() / .withdraw() / .status(). The same in Chromium, watching the
// network and the real storage: tag/browser/consent.test.mjs.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { Browser, plain, UUID7 } = require('./helpers.js');

const cart = (n) => ({ type: 'cart', total: n, currency: 'USD' });
const ENGAGEMENT = {
  campaignId: 1,
  engagementId: 2,
  engagementRevision: 1,
  engagementType: 2,
  contextId: 'ctx-1',
  state: 1,
  confKey: '1_2_1',
  tglName: 'toaster',
  engagementName: 'Toaster',
  content: { title: 'Hello' },
};
const stored = (b) => [...b.storage.map.keys()];
const monitoring = (w) => plain(w.lpTag.events.hasFired('lp_SMT', 'MONITORING_STATE')).map((x) => x.data.active);

// A page with the gate on: SDEs pushed before and after load, an event, a page hide.
async function gatedPage(b, preset = { consent: 'required' }) {
  b.server.decision = { engagements: [ENGAGEMENT] };
  const w = b.load({ before: (win) => (win.lpTag = Object.assign({ sdes: [cart(1)] }, preset)) });
  w.lpTag.sdes.push(cart(2));
  w.lpTag.events.trigger('shop', 'VIEW', { n: 1 });
  await b.clock.advance(5000);
  w.dispatch('pagehide');
  w.document.visibilityState = 'hidden';
  w.document.dispatch('visibilitychange');
  w.document.visibilityState = 'visible';
  w.document.dispatch('visibilitychange');
  w.dispatch('online');
  await b.clock.advance(60000);
  return w;
}

test('with lpTag.consent = "required" nothing is stored and nothing is sent until grant()', async () => {
  const b = new Browser();
  const w = await gatedPage(b);
  assert.equal(w.lpTag.consent.status(), 'pending');
  assert.deepEqual(b.server.requests, [], 'no decision, no events');
  assert.deepEqual(b.server.beacons, [], 'no beacon on page hide');
  assert.deepEqual(stored(b), [], 'nothing in localStorage');
  assert.deepEqual([...b.cookies.keys()], [], 'no cookie');
  assert.equal(w.lpTag._engage.visit, null, 'no visitor id');
  // the page's API works meanwhile
  assert.deepEqual(plain(w.lpTag.sdes.get('cart')).map((s) => s.total), [1, 2]);
  assert.equal(w.lpTag.events.hasFired('shop', 'VIEW').length, 1);
  assert.deepEqual(monitoring(w), []);

  w.lpTag.consent.grant();
  assert.equal(w.lpTag.consent.status(), 'granted');
  await b.clock.advance(1000);
  assert.match(w.lpTag._engage.visit.visitorId, UUID7);
  assert.equal(b.storage.getItem('_engage_vid'), w.lpTag._engage.visit.visitorId);
  assert.ok(b.cookies.has('_engage_vid'));
  assert.deepEqual(monitoring(w), [true]);
  assert.equal(b.server.requests.filter((r) => /decision$/.test(r.url)).length, 1);
  assert.deepEqual(b.server.items('sdes').map((x) => x.item.sde.total), [1, 2], 'what was held is sent');
  assert.deepEqual(
    b.server.items('events').map((x) => x.item.eventName),
    ['START', 'OFFER_DISPLAY'],
    'the engagement is shown once the server may be asked'
  );
  assert.equal(b.server.items('sdes')[0].envelope.visitorId, w.lpTag._engage.visit.visitorId);
  w.lpTag.consent.grant(); // twice changes nothing
  await b.clock.advance(2000);
  assert.equal(b.server.requests.filter((r) => /decision$/.test(r.url)).length, 1);
  assert.deepEqual(b.errors(), []);
});

test('withdraw() removes the engagements, drops what is queued, clears the stored ids and outboxes, and stops sending', async () => {
  const b = new Browser();
  // an outbox an earlier page left behind, and an unrelated key of the site
  b.storage.setItem('_engage_q_acct1_old', JSON.stringify({ t: 0, o: true, q: [], pages: {} }));
  b.storage.setItem('site_theme', 'dark');
  b.server.decision = { engagements: [ENGAGEMENT] };
  const w = b.load({ before: (win) => (win.lpTag = { consent: 'granted' }) });
  assert.equal(w.lpTag.consent.status(), 'granted');
  await b.clock.advance(2000);
  const firstVisitor = w.lpTag._engage.visit.visitorId;
  assert.equal(b.server.items('events').length, 2);
  // items on their way: one sent to a server that has not answered yet, one in the outbox
  const real = b.server.fetch.bind(b.server);
  let fail;
  b.server.fetch = (url, init) =>
    /events$/.test(url) ? (b.server.requests.push({ url, init }), new Promise((_, reject) => (fail = reject))) : real(url, init);
  let answer = null;
  w.lpTag.sdes.send(cart(1), (err) => (answer = err));
  await b.clock.advance(0);
  assert.equal(answer, null);
  w.lpTag.sdes.push(cart(2));
  assert.ok(stored(b).some((k) => k.startsWith('_engage_q_')));
  const requestsBefore = b.server.requests.length;

  w.lpTag.consent.withdraw();
  assert.equal(w.lpTag.consent.status(), 'withdrawn');
  assert.match(String(answer), /consent was withdrawn/, 'a send waiting for the server is told');
  assert.deepEqual(stored(b), ['site_theme'], 'only the site’s own key is left');
  assert.deepEqual([...b.cookies.keys()], []);
  assert.equal(w.lpTag._engage.visit, null);
  assert.equal(w.document.querySelectorAll('[data-engagement-id]').length, 0);
  assert.deepEqual(monitoring(w), [true, false]);
  const fired = plain(w.lpTag.events.hasFired('LP_OFFERS', '*')).map((x) => x.eventName);
  assert.equal(fired[fired.length - 1], 'OFFER_REMOVE');

  b.server.fetch = real;
  fail(new TypeError('Failed to fetch')); // the request on its way fails after all
  w.lpTag.sdes.push(cart(3));
  w.lpTag.newPage('https://shop.example/next');
  w.dispatch('online');
  w.dispatch('pagehide');
  await b.clock.advance(600000);
  assert.equal(b.server.requests.length, requestsBefore, 'nothing sent after the withdrawal');
  assert.deepEqual(b.server.beacons, []);
  assert.deepEqual(b.server.items('sdes'), [], 'not even what was queued before it');
  assert.deepEqual(stored(b), ['site_theme']);
  assert.deepEqual([...b.cookies.keys()], []);

  // granted again: a new visitor, as on a first visit
  w.lpTag.consent.grant();
  w.lpTag.sdes.push(cart(4));
  await b.clock.advance(1000);
  assert.notEqual(w.lpTag._engage.visit.visitorId, firstVisitor);
  assert.deepEqual(b.server.items('sdes').map((x) => x.item.sde.total), [4]);
  assert.equal(b.server.items('sdes')[0].envelope.visitorId, w.lpTag._engage.visit.visitorId);
  assert.deepEqual(monitoring(w), [true, false, true]);
});

test('lpTag.consent = "withdrawn" at load clears what an earlier page stored and sends nothing', async () => {
  const b = new Browser();
  const w1 = b.load();
  b.server.mode = 'down';
  w1.lpTag.sdes.push(cart(1));
  await b.clock.advance(1000);
  w1.dispatch('pagehide'); // leaves its outbox for the next page
  b.clock.timers = [];
  b.server.mode = 'up';
  const requests = b.server.requests.length;
  assert.ok(stored(b).length >= 3);
  const w2 = await gatedPage(b, { consent: 'withdrawn' });
  assert.equal(w2.lpTag.consent.status(), 'withdrawn');
  assert.deepEqual(stored(b), []);
  assert.deepEqual([...b.cookies.keys()], []);
  assert.equal(b.server.requests.length, requests);
  assert.deepEqual(b.server.items('sdes'), []);
});

test('lpTag.ovr.consent works with LivePerson’s snippet, which keeps only ovr of what the page set; lpTag.defer runs while consent is pending', async () => {
  const b = new Browser();
  const shape = fs.readFileSync(path.join(__dirname, 'lp-shape.js'), 'utf8');
  const deferred = [];
  const w = b.load({
    scriptSrc: 'https://engage.test:9443/tag/tag.js?site=acct1',
    before: (win) => {
      win._lptStop = true;
      win.lpTag = { ovr: { consent: 'required' } };
      vm.runInContext(shape + "\nlpShapedSnippet('acct1', 'engage.test:9443', 'https:');", win);
      win.lpTag.sdes.push(cart(1));
      win.lpTag.defer(() => deferred.push('before load'));
    },
  });
  // a consent manager waiting for the tag with lpTag.defer is not kept waiting for consent
  w.lpTag.defer(() => deferred.push('after load'));
  assert.deepEqual(deferred, ['before load', 'after load']);
  await b.clock.advance(5000);
  assert.equal(w.lpTag.consent.status(), 'pending');
  assert.deepEqual(b.server.requests, []);
  assert.deepEqual(stored(b), []);
  w.lpTag.consent.grant();
  await b.clock.advance(1000);
  assert.deepEqual(b.server.items('sdes').map((x) => x.item.sde.total), [1]);
});

test('consent and autoStart: both are needed before anything is sent, in either order', async () => {
  for (const grantFirst of [true, false]) {
    const b = new Browser();
    const w = b.load({ before: (win) => (win.lpTag = { consent: 'required', autoStart: false }) });
    w.lpTag.sdes.push(cart(1));
    if (grantFirst) w.lpTag.consent.grant();
    else w.lpTag.start();
    await b.clock.advance(5000);
    assert.deepEqual(b.server.requests, [], 'grant first: ' + grantFirst);
    assert.deepEqual(stored(b), []);
    if (grantFirst) w.lpTag.start();
    else w.lpTag.consent.grant();
    await b.clock.advance(1000);
    assert.deepEqual(b.server.items('sdes').map((x) => x.item.sde.total), [1]);
  }
});

test('without a consent setting the tag runs as it always has: status "none", ids stored at load', async () => {
  for (const preset of [undefined, 'something else']) {
    const b = new Browser();
    const w = b.load({ before: (win) => (win.lpTag = { consent: preset }) });
    assert.equal(w.lpTag.consent.status(), 'none');
    assert.ok(b.storage.getItem('_engage_vid'));
    w.lpTag.sdes.push(cart(1));
    await b.clock.advance(1000);
    assert.equal(b.server.items('sdes').length, 1);
  }
});
