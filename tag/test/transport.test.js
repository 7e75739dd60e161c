// The visit ids and the transport: batching, limits, retries, the stored outbox, beacons.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { Browser, plain, settle, UUID7 } = require('./helpers.js');

const cart = (n) => ({ type: 'cart', total: n, currency: 'USD' });
const decisionCount = (b) => b.server.requests.filter((r) => /decision$/.test(r.url)).length;

// ---- the visit

test('visitor and session ids are UUIDv7 and survive a reload; the page id is new per load', async () => {
  const b = new Browser();
  const w1 = b.load();
  const v1 = w1.lpTag._engage.visit.visitorId;
  const s1 = w1.lpTag._engage.visit.session();
  const p1 = w1.lpTag._engage.tag.pageId;
  for (const id of [v1, s1, p1]) assert.match(id, UUID7);
  await b.clock.advance(10 * 60 * 1000);
  const w2 = b.load();
  assert.equal(w2.lpTag._engage.visit.visitorId, v1);
  assert.equal(w2.lpTag._engage.visit.session(), s1);
  assert.notEqual(w2.lpTag._engage.tag.pageId, p1);
});

test('a session ends after 30 minutes idle, across reloads and within one page', async () => {
  const b = new Browser();
  const w1 = b.load();
  const s1 = w1.lpTag._engage.visit.session();
  await b.clock.advance(29 * 60 * 1000);
  const w2 = b.load();
  const s2 = w2.lpTag._engage.visit.session();
  assert.equal(s2, s1, 'activity within 30 minutes keeps the session');
  await b.clock.advance(30 * 60 * 1000 + 1);
  const w3 = b.load();
  const s3 = w3.lpTag._engage.visit.session();
  assert.notEqual(s3, s1);
  assert.equal(w3.lpTag._engage.visit.visitorId, w1.lpTag._engage.visit.visitorId);
  await b.clock.advance(31 * 60 * 1000);
  w3.lpTag.sdes.push(cart(1)); // activity on a page left open for half an hour
  await b.clock.advance(1000);
  assert.notEqual(b.server.items('sdes')[0].envelope.sessionId, s3);
});

test('ids fall back to first-party cookies when localStorage is unavailable', () => {
  const b = new Browser();
  b.storageBroken = true;
  const w1 = b.load();
  const v1 = w1.lpTag._engage.visit.visitorId;
  assert.ok(b.cookies.get('_engage_vid').length > 0);
  const w2 = b.load();
  assert.equal(w2.lpTag._engage.visit.visitorId, v1);
  assert.equal(w2.lpTag._engage.visit.session(), w1.lpTag._engage.visit.session());
});

test('the visitor id comes back from the cookie when localStorage was cleared', () => {
  const b = new Browser();
  const v1 = b.load().lpTag._engage.visit.visitorId;
  b.storage.map.clear();
  assert.equal(b.load().lpTag._engage.visit.visitorId, v1);
});

test('with neither storage nor cookies the tag still runs, with ids for this page', async () => {
  const b = new Browser();
  b.storageBroken = true;
  b.cookiesBroken = true;
  const w = b.load();
  w.lpTag.sdes.push(cart(1));
  await b.clock.advance(1000);
  assert.equal(b.server.items('sdes').length, 1);
  assert.match(b.server.items('sdes')[0].envelope.visitorId, UUID7);
});

// ---- where it sends

test('the server URL is the tag script’s origin and the account its ?site=', async () => {
  const b = new Browser();
  b.load({ scriptSrc: 'http://127.0.0.1:9999/tag/tag.js?site=12345' });
  await b.clock.advance(0);
  assert.equal(b.server.requests[0].url, 'http://127.0.0.1:9999/api/account/12345/decision');
});

test('without ?site= the account is lpTag.site; without either nothing is sent and an error says why', async () => {
  const b = new Browser();
  const w = b.load({ scriptSrc: 'https://cdn.example/tag/tag.js', before: (win) => (win.lpTag = { site: '777' }) });
  w.lpTag.sdes.push(cart(1));
  await b.clock.advance(1000);
  assert.deepEqual(b.server.requests.map((r) => r.url), ['https://cdn.example/api/account/777/decision', 'https://cdn.example/api/account/777/events']);

  const b2 = new Browser();
  const w2 = b2.load({ scriptSrc: 'https://cdn.example/tag/tag.js' });
  w2.lpTag.sdes.push(cart(1));
  let err;
  w2.lpTag.sdes.send(cart(2), (e) => (err = e));
  await b2.clock.advance(5000);
  assert.equal(b2.server.requests.length, 0);
  assert.match(b2.errors()[0][1], /no account/);
  assert.match(err.message, /no account/);
  assert.deepEqual(plain(w2.lpTag.sdes.get()).length, 2, 'the bus and get() still work');
});

test('only LP_OFFERS events go to the server, each with a client id and time', async () => {
  const b = new Browser();
  const w = b.load();
  w.lpTag.events.trigger('shop', 'ADDED', { sku: 1 });
  w.lpTag.events.trigger('LP_OFFERS', 'OFFER_CLICK', { engagementId: 5 });
  w.lpTag.events.trigger({ eventName: 'OFFER_CLICK', data: { engagementId: 6 } }); // no app: not LP_OFFERS
  await b.clock.advance(1000);
  const events = b.server.items('events').map((x) => x.item);
  assert.equal(events.length, 1);
  assert.equal(events[0].appName, 'LP_OFFERS');
  assert.equal(events[0].eventName, 'OFFER_CLICK');
  assert.deepEqual(events[0].data, { engagementId: 5 });
  assert.match(events[0].id, UUID7);
  assert.equal(typeof events[0].time, 'number');
});

// ---- batches and limits

test('250 items go in batches of at most 100, in order', async () => {
  const b = new Browser();
  const w = b.load();
  for (let i = 0; i < 250; i++) w.lpTag.sdes.push(cart(i));
  await b.clock.advance(1000);
  const sizes = b.server.eventRequests().map((r) => JSON.parse(r.body).sdes.length);
  assert.deepEqual(sizes, [100, 100, 50]);
  assert.deepEqual(b.server.items('sdes').map((x) => x.item.sde.total), [...Array(250).keys()]);
});

test('batches stay within the keepalive budget; a bigger item goes alone without keepalive; one over the server limit is dropped with an error', async () => {
  const b = new Browser();
  const w = b.load();
  const big = (n, chars) => ({ type: 'searchInfo', keywords: ['x'.repeat(chars)], n });
  for (let i = 0; i < 5; i++) w.lpTag.sdes.push(big(i, 20000));
  w.lpTag.sdes.push(big(5, 200000));
  w.lpTag.sdes.push(big(6, 1100000));
  w.lpTag.sdes.push(cart(7));
  await b.clock.advance(1000);
  const requests = b.server.eventRequests();
  for (const r of requests) {
    const bytes = Buffer.byteLength(r.body);
    if (r.init.keepalive) assert.ok(bytes <= 60000, 'keepalive body of ' + bytes + ' bytes');
    else assert.ok(bytes > 60000 && bytes < 1000000);
  }
  assert.ok(requests.some((r) => !r.init.keepalive), 'the 200 kB item went without keepalive');
  const stored = b.server.items('sdes').map((x) => x.item.sde.n ?? x.item.sde.total);
  assert.deepEqual(stored, [0, 1, 2, 3, 4, 5, 7]);
  assert.match(b.errors()[0][1], /over the server limit/);
});

test('a batch holds the items of one page view; another page view’s items go in their own', async () => {
  const b = new Browser();
  const w = b.load();
  w.lpTag.sdes.push(cart(1));
  w.lpTag.newPage('https://shop.example/next');
  w.lpTag.sdes.push(cart(2));
  await b.clock.advance(1000);
  const bodies = b.server.eventRequests().map((r) => JSON.parse(r.body));
  assert.equal(bodies.length, 2);
  assert.notEqual(bodies[0].pageId, bodies[1].pageId);
  assert.deepEqual(bodies.map((x) => x.sdes.map((s) => s.sde.total)), [[1], [2]]);
});

test('a 413 halves the batch and the items still arrive', async () => {
  const b = new Browser();
  const w = b.load();
  let refused = 0;
  const real = b.server.fetch.bind(b.server);
  b.server.fetch = async (url, init) => {
    if (/events$/.test(url) && JSON.parse(init.body).sdes.length > 40) {
      refused++;
      b.server.requests.push({ url, init, body: init.body });
      return { ok: false, status: 413, json: async () => ({ code: 'batch_too_large' }) };
    }
    return real(url, init);
  };
  for (let i = 0; i < 100; i++) w.lpTag.sdes.push(cart(i));
  await b.clock.advance(1000);
  assert.equal(refused, 2); // 100 and 50 refused, then batches of 25
  assert.deepEqual(b.server.eventRequests().slice(2).map((r) => JSON.parse(r.body).sdes.length), [25, 25, 25, 25]);
  assert.equal(b.server.items('sdes').length, 100);
});

// ---- failures and retries

test('a server that is down, then back: nothing is lost and everything is stored exactly once', async () => {
  const b = new Browser();
  const w = b.load();
  b.server.mode = 'down';
  for (let i = 0; i < 5; i++) w.lpTag.sdes.push(cart(i));
  await b.clock.advance(1000);
  const tries = () => b.server.eventRequests().length;
  assert.equal(tries(), 1);
  await b.clock.advance(60000);
  const during = tries();
  assert.ok(during >= 4 && during <= 8, 'backoff: ' + during + ' tries in a minute');
  b.server.mode = 'up';
  await b.clock.advance(61000);
  assert.deepEqual(b.server.items('sdes').map((x) => x.item.sde.total), [0, 1, 2, 3, 4]);
  const after = tries();
  await b.clock.advance(120000);
  assert.equal(tries(), after, 'nothing more to send');
});

test('503, 500, 429 and 408 are retried; the retry carries the same client ids', async () => {
  for (const status of [503, 500, 429, 408]) {
    const b = new Browser();
    const w = b.load();
    b.server.mode = status;
    w.lpTag.sdes.push(cart(1));
    await b.clock.advance(1000);
    b.server.mode = 'up';
    await b.clock.advance(3000);
    const ids = b.server.eventRequests().map((r) => JSON.parse(r.body).sdes[0].id);
    assert.equal(ids.length, 2, 'status ' + status);
    assert.equal(ids[0], ids[1]);
    assert.equal(b.server.items('sdes').length, 1);
  }
});

test('429 and 503 with Retry-After (seconds): the batch is kept and not tried again before that long', async () => {
  for (const status of [429, 503]) {
    const b = new Browser();
    const w = b.load();
    b.server.mode = status;
    b.server.retryAfter = 20;
    w.lpTag.sdes.push(cart(1));
    w.lpTag.sdes.push(cart(2));
    await b.clock.advance(1000);
    assert.equal(b.server.eventRequests().length, 1, 'status ' + status);
    const key = '_engage_q_acct1_' + w.lpTag._engage.tag.pageId;
    assert.equal(JSON.parse(b.storage.getItem(key)).q.length, 2, 'kept in the stored outbox');
    b.server.mode = 'up';
    w.lpTag.sdes.push(cart(3)); // new items do not go early either
    w.dispatch('online'); // nor does the browser coming back online
    w.lpTag.sdes.send(cart(4)); // nor a send "at once"
    await b.clock.advance(19900);
    assert.equal(b.server.eventRequests().length, 1, 'nothing within the 20 s asked for (' + status + ')');
    await b.clock.advance(1200);
    assert.equal(b.server.eventRequests().length, 2, 'tried again once the 20 s are over');
    assert.deepEqual(b.server.items('sdes').map((x) => x.item.sde.total), [1, 2, 3, 4]);
    assert.equal(b.storage.getItem(key), null);
  }
});

test('Retry-After as an HTTP date waits until then; past the 10-minute bound it waits 10 minutes', async () => {
  const b = new Browser();
  const w = b.load();
  b.server.mode = 429;
  b.server.retryAfter = new Date(b.clock.t + 1000 + 45000).toUTCString(); // 45 s after the first try
  w.lpTag.sdes.push(cart(1));
  await b.clock.advance(1000);
  b.server.mode = 429;
  b.server.retryAfter = 86400; // a day: bounded to 10 minutes
  await b.clock.advance(43000);
  assert.equal(b.server.eventRequests().length, 1);
  await b.clock.advance(3000);
  assert.equal(b.server.eventRequests().length, 2, 'the date has passed');
  b.server.mode = 'up';
  await b.clock.advance(598000);
  assert.equal(b.server.eventRequests().length, 2, 'not before 10 minutes');
  await b.clock.advance(3000);
  assert.equal(b.server.eventRequests().length, 3);
  assert.equal(b.server.items('sdes').length, 1);
});

test('without Retry-After, or with one that is unreadable or on another status, the backoff is as before', async () => {
  for (const [status, retryAfter] of [[429, null], [429, 'soon'], [429, '-5'], [500, 30]]) {
    const b = new Browser();
    const w = b.load();
    b.server.mode = status;
    b.server.retryAfter = retryAfter;
    w.lpTag.sdes.push(cart(1));
    await b.clock.advance(1000);
    b.server.mode = 'up';
    await b.clock.advance(1000); // the first backoff is 0.5-1 s
    assert.equal(b.server.items('sdes').length, 1, status + ' ' + retryAfter);
  }
});

test('a Retry-After outlives the page: the next page adopts the outbox and still waits it out', async () => {
  const b = new Browser();
  const w1 = b.load();
  b.server.mode = 429;
  b.server.retryAfter = 120;
  w1.lpTag.sdes.push(cart(1));
  await b.clock.advance(1000);
  w1.dispatch('pagehide');
  assert.equal(b.server.beacons.length, 0, 'no beacon while the server asks to wait');
  b.server.mode = 'up';
  b.clock.timers = []; // the page is gone
  await b.clock.advance(10000);
  b.load();
  await b.clock.advance(100000);
  assert.equal(b.server.items('sdes').length, 0, 'the next page waits for the rest of the 120 s');
  await b.clock.advance(12000);
  assert.equal(b.server.items('sdes').length, 1);
});

test('a batch the server will never take (404 unknown account) is logged and dropped, not retried forever', async () => {
  const b = new Browser();
  const w = b.load();
  b.server.mode = 404;
  w.lpTag.sdes.push(cart(1));
  await b.clock.advance(1000);
  await b.clock.advance(600000);
  assert.equal(b.server.eventRequests().length, 1);
  assert.match(b.errors()[0][1], /refused a batch \(404\)/);
  assert.equal(b.storage.getItem('_engage_q_acct1_' + w.lpTag._engage.tag.pageId), null);
});

test('items rejected by the server are reported in the console (they are in its quarantine)', async () => {
  const b = new Browser();
  const w = b.load();
  b.server.receive = () => ({ accepted: 0, duplicates: 0, rejected: [{ kind: 'sde', index: 0, errors: [{ path: '/sdes/0/sde/total', message: 'bad' }] }] });
  w.lpTag.sdes.push(cart(1));
  await b.clock.advance(1000);
  const warn = b.logs.find((l) => l[0] === 'warn');
  assert.match(warn[1], /rejected sde 0/);
  assert.equal(plain(warn[2])[0].path, '/sdes/0/sde/total');
});

test('the browser coming back online retries at once', async () => {
  const b = new Browser();
  const w = b.load();
  b.server.mode = 'down';
  w.lpTag.sdes.push(cart(1));
  await b.clock.advance(1000);
  await b.clock.advance(31000); // backoff now in the tens of seconds
  b.server.mode = 'up';
  const before = b.server.eventRequests().length;
  w.dispatch('online');
  await b.clock.advance(0);
  assert.equal(b.server.eventRequests().length, before + 1);
  assert.equal(b.server.items('sdes').length, 1);
});

// ---- the stored outbox

test('a closed tab loses nothing: its outbox is stored and the next page of the site sends it', async () => {
  const b = new Browser();
  const w1 = b.load();
  b.server.mode = 'down';
  w1.lpTag.sdes.push(cart(1));
  w1.lpTag.sdes.push(cart(2));
  await b.clock.advance(1000); // tried, failed
  w1.dispatch('pagehide'); // the tab closes; the beacon is lost too (server down)
  assert.equal(b.server.beacons.length, 1);
  b.server.mode = 'up';
  const w2 = b.load();
  await b.clock.advance(0);
  assert.deepEqual(b.server.items('sdes').map((x) => x.item.sde.total), [1, 2]);
  const envelope = b.server.items('sdes')[0].envelope;
  assert.equal(envelope.pageId, w1.lpTag._engage.tag.pageId, 'sent as the page view they belong to');
  assert.notEqual(envelope.pageId, w2.lpTag._engage.tag.pageId);
  assert.deepEqual(b.storage.map.size && [...b.storage.map.keys()].filter((k) => k.startsWith('_engage_q_')), []);
});

test('a crashed tab’s outbox (no pagehide) is adopted after three minutes of silence, not before', async () => {
  const b = new Browser();
  const w1 = b.load();
  b.server.mode = 'down';
  w1.lpTag.sdes.push(cart(1));
  await b.clock.advance(1000);
  b.clock.timers = []; // the tab is gone without a word
  b.server.mode = 'up';
  b.load(); // a live-looking outbox belongs to another tab: left alone
  await b.clock.advance(0);
  assert.equal(b.server.items('sdes').length, 0);
  await b.clock.advance(181000);
  b.load();
  await b.clock.advance(0);
  assert.equal(b.server.items('sdes').length, 1);
});

test('on pagehide the outbox goes by sendBeacon as text, and a later page’s resend is stored once', async () => {
  const b = new Browser();
  const w1 = b.load();
  w1.lpTag.sdes.push(cart(1));
  w1.lpTag.events.trigger('LP_OFFERS', 'OFFER_CLICK', { engagementId: 1 });
  w1.dispatch('pagehide');
  assert.equal(b.server.beacons.length, 1);
  const body = JSON.parse(b.server.beacons[0].body);
  assert.equal(b.server.beacons[0].url, 'https://engage.example:8443/api/account/acct1/events');
  assert.equal(body.sdes.length, 1);
  assert.equal(body.events.length, 1);
  assert.equal(b.server.eventRequests().length, 0, 'the fetch had not gone yet');
  b.load();
  await b.clock.advance(0);
  assert.equal(b.server.items().length, 2, 'stored once, though sent twice');
});

test('LP_OFFERS events join the stored outbox once the page is idle, in the order they fired among SDEs', async () => {
  const b = new Browser();
  const w = b.load();
  await b.clock.advance(0);
  const key = '_engage_q_acct1_' + w.lpTag._engage.tag.pageId;
  w.lpTag.events.trigger('LP_OFFERS', 'START', { engagementId: 1 });
  await settle();
  assert.equal(b.storage.getItem(key), null, 'not while the engagement is being shown');
  w.lpTag.sdes.push(cart(1)); // whatever else reaches the outbox takes the waiting events first
  await settle();
  assert.deepEqual(JSON.parse(b.storage.getItem(key)).q.map((x) => x.c), ['events', 'sdes']);
  w.lpTag.events.trigger('LP_OFFERS', 'OFFER_DISPLAY', { engagementId: 1 });
  await b.clock.advance(0); // idle
  assert.deepEqual(JSON.parse(b.storage.getItem(key)).q.map((x) => x.i.eventName || x.i.sde.type), ['START', 'cart', 'OFFER_DISPLAY']);
  await b.clock.advance(1000);
  assert.deepEqual(b.server.items('events').map((x) => x.item.eventName), ['START', 'OFFER_DISPLAY']);
});

test('visibilitychange to hidden beacons too; when the page comes back it confirms with the server', async () => {
  const b = new Browser();
  const w = b.load();
  w.lpTag.sdes.push(cart(1));
  w.document.visibilityState = 'hidden';
  w.document.dispatch('visibilitychange');
  assert.equal(b.server.beacons.length, 1);
  w.document.visibilityState = 'visible';
  w.document.dispatch('visibilitychange');
  await b.clock.advance(15000);
  assert.equal(b.server.items('sdes').length, 1);
  assert.equal(b.storage.getItem('_engage_q_acct1_' + w.lpTag._engage.tag.pageId), null, 'acknowledged, so forgotten');
});

test('beacons respect the keepalive budget: the outbox is split, and what the browser refuses stays for the next page', async () => {
  const b = new Browser();
  const w = b.load();
  for (let i = 0; i < 8; i++) w.lpTag.sdes.push({ type: 'searchInfo', keywords: ['y'.repeat(20000)], n: i });
  w.dispatch('pagehide');
  assert.ok(b.server.beacons.length >= 3);
  for (const beacon of b.server.beacons) assert.ok(Buffer.byteLength(beacon.body) <= 60000);
  assert.equal(b.server.items('sdes').length, 8);

  const b2 = new Browser();
  const w2 = b2.load();
  b2.server.beaconRefuses = true;
  w2.lpTag.sdes.push(cart(1));
  w2.dispatch('pagehide');
  b2.server.beaconRefuses = false;
  b2.load();
  await b2.clock.advance(0);
  assert.equal(b2.server.items('sdes').length, 1);
});

test('without sendBeacon, page hide keeps the outbox for the next page', async () => {
  const b = new Browser();
  const w = b.load({ noBeacon: true });
  w.lpTag.sdes.push(cart(1));
  w.dispatch('pagehide');
  b.load();
  await b.clock.advance(0);
  assert.equal(b.server.items('sdes').length, 1);
});

test('the outbox is bounded: past 2000 items the oldest go, with a warning', async () => {
  const b = new Browser();
  const w = b.load();
  b.server.mode = 'down';
  for (let i = 0; i < 2005; i++) w.lpTag.sdes.push(cart(i));
  assert.ok(b.logs.some((l) => l[0] === 'warn' && /outbox full/.test(l[1])));
  b.server.mode = 'up';
  await b.clock.advance(1000);
  await b.clock.advance(1000);
  const totals = b.server.items('sdes').map((x) => x.item.sde.total);
  assert.equal(totals.length, 2000);
  assert.equal(totals[0], 5);
});

test('the outbox is bounded in bytes too (1 MB of the site’s localStorage): the oldest go first', async () => {
  const b = new Browser();
  const w = b.load();
  b.server.mode = 'down';
  for (let i = 0; i < 30; i++) w.lpTag.sdes.push({ type: 'searchInfo', keywords: ['z'.repeat(50000)], n: i });
  await b.clock.advance(0);
  const stored = b.storage.getItem('_engage_q_acct1_' + w.lpTag._engage.tag.pageId);
  assert.ok(stored.length < 1100000, 'stored outbox of ' + stored.length + ' characters');
  b.server.mode = 'up';
  await b.clock.advance(2000);
  const kept = b.server.items('sdes').map((x) => x.item.sde.n);
  assert.ok(kept.length >= 18 && kept.length <= 20, kept.length + ' kept');
  assert.equal(kept[kept.length - 1], 29);
  assert.ok(b.logs.some((l) => l[0] === 'warn' && /outbox full/.test(l[1])));
});

test('the decision is asked once per page view', async () => {
  const b = new Browser();
  const w = b.load();
  await b.clock.advance(0);
  assert.equal(decisionCount(b), 1);
  w.lpTag.newPage('https://shop.example/x');
  await b.clock.advance(0);
  assert.equal(decisionCount(b), 2);
});
