// lpTag.sdes, lpTag.hooks (BEFORE_SUBMIT_SDE), lpTag.section and lpTag.newPage
// (docs/vocabulary.md, Attributes).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { Browser, plain, runSnippet, UUID7 } = require('./helpers.js');

const CART = { type: 'cart', total: 11.7, currency: 'USD', numItems: 1 };
const SEARCH = { type: 'searchInfo', keywords: ['shoes'] };

test('push(sde) fires lp_sdes/VAR_ADDED with the SDE and keeps it for get()', () => {
  const b = new Browser();
  const w = b.load();
  const added = [];
  w.lpTag.events.bind('lp_sdes', 'VAR_ADDED', (d) => added.push(plain(d)));
  w.lpTag.sdes.push(CART);
  assert.deepEqual(added, [CART]);
  assert.deepEqual(plain(w.lpTag.sdes.get()), [CART]);
  assert.deepEqual(plain(w.lpTag.events.hasFired('lp_sdes', 'VAR_ADDED')).map((x) => x.data), [CART]);
});

test('push([sde, sde]) and push(sde, sde) add each one', () => {
  const w = new Browser().load();
  w.lpTag.sdes.push([CART, SEARCH]);
  w.lpTag.sdes.push({ type: 'lead', lead: { topic: 'a' } }, { type: 'error', error: { message: 'x' } });
  assert.deepEqual(plain(w.lpTag.sdes.get()).map((s) => s.type), ['cart', 'searchInfo', 'lead', 'error']);
});

test('get(type) returns copies of this page view’s SDEs of that type', () => {
  const w = new Browser().load();
  w.lpTag.sdes.push([CART, SEARCH, { type: 'cart', total: 1 }]);
  const carts = w.lpTag.sdes.get('cart');
  assert.deepEqual(plain(carts).map((c) => c.total), [11.7, 1]);
  carts[0].total = 99;
  assert.equal(w.lpTag.sdes.get('cart')[0].total, 11.7);
  // developer-center, pages/documents/WebsiteMonitoring/LE-Tag/sdes.md: "array of sdes with
  // the type equal to the type given, or `undefined` if does not exist"; without a type,
  // "array of ALL sdes in the store"
  assert.equal(w.lpTag.sdes.get('purchase'), undefined);
  assert.equal(plain(w.lpTag.sdes.get()).length, 3);
  assert.deepEqual(plain(new Browser().load().lpTag.sdes.get()), []);
});

test('an SDE without a type is logged and ignored', () => {
  const b = new Browser();
  const w = b.load();
  w.lpTag.sdes.push([{ total: 1 }, 'cart', null, CART]);
  assert.deepEqual(plain(w.lpTag.sdes.get()), [CART]);
  assert.equal(b.errors().length, 3);
});

test('push queues: nothing is sent at once, the batch leaves within a second with a client id and time per SDE', async () => {
  const b = new Browser();
  const w = b.load();
  const t0 = b.clock.t;
  w.lpTag.sdes.push(CART);
  w.lpTag.sdes.push(SEARCH);
  await b.clock.advance(900);
  assert.equal(b.server.eventRequests().length, 0);
  await b.clock.advance(200);
  const requests = b.server.eventRequests();
  assert.equal(requests.length, 1);
  assert.equal(requests[0].init.method, 'POST');
  assert.equal(requests[0].init.keepalive, true);
  assert.equal(requests[0].init.headers['content-type'], 'text/plain');
  const body = JSON.parse(requests[0].body);
  assert.deepEqual(Object.keys(body).sort(), ['page', 'pageId', 'sdes', 'sessionId', 'visitorId']);
  assert.equal(body.sdes.length, 2);
  assert.deepEqual(body.sdes.map((s) => s.sde), [CART, SEARCH]);
  for (const s of body.sdes) {
    assert.match(s.id, UUID7);
    assert.equal(s.time, t0);
  }
  assert.ok(body.sdes[0].id < body.sdes[1].id, 'ids made in one millisecond are still in order');
  assert.deepEqual(body.page, { url: 'https://shop.example/cart', referrer: '', title: 'Test page', sections: [] });
});

test('SDEs pushed before the tag loaded are picked up, announced, and sent', async () => {
  const b = new Browser();
  const w = b.load({
    before: (win) => {
      win.lpTag = { sdes: [] };
      win.lpTag.sdes.push(CART);
      win.lpTag.sdes.push(SEARCH);
    },
  });
  assert.deepEqual(plain(w.lpTag.sdes.get()), [CART, SEARCH]);
  assert.equal(w.lpTag.events.hasFired('lp_sdes', 'VAR_ADDED').length, 2);
  await b.clock.advance(1000);
  assert.deepEqual(b.server.items('sdes').map((x) => x.item.sde), [CART, SEARCH]);
  // and the decision saw them
  const decision = JSON.parse(b.server.requests.find((r) => /decision$/.test(r.url)).body);
  assert.deepEqual(decision.sdes, [CART, SEARCH]);
});

test('send(sde, callback) sends at once and calls back once stored', async () => {
  const b = new Browser();
  const w = b.load();
  w.lpTag.sdes.push(SEARCH); // queued; goes along with the send
  let answer;
  w.lpTag.sdes.send(CART, (error, result) => (answer = [error, plain(result)]));
  await b.clock.advance(0);
  assert.equal(b.server.eventRequests().length, 1);
  // the counts are the server's answer to the request that carried it (with the queued push)
  assert.deepEqual(answer, [null, { accepted: 2, duplicates: 0 }]);
  assert.equal(b.server.items('sdes').length, 2);
});

test('send calls back with an error when the server cannot be reached, and the SDE is retried later', async () => {
  const b = new Browser();
  const w = b.load();
  b.server.mode = 'down';
  let error;
  w.lpTag.sdes.send([CART], (e) => (error = e));
  await b.clock.advance(0);
  assert.match(error.message, /could not be reached/);
  b.server.mode = 'up';
  await b.clock.advance(2000);
  assert.equal(b.server.items('sdes').length, 1);
});

test('send with nothing valid calls back with nothing stored', async () => {
  const b = new Browser();
  const w = b.load();
  let answer;
  w.lpTag.sdes.send({ nope: 1 }, (e, r) => (answer = [e, plain(r)]));
  await b.clock.advance(0);
  assert.deepEqual(answer, [null, { accepted: 0, duplicates: 0 }]);
});

test('a throwing send callback is logged', async () => {
  const b = new Browser();
  const w = b.load();
  w.lpTag.sdes.send(CART, () => {
    throw new Error('cb');
  });
  await b.clock.advance(0);
  assert.equal(b.errors().length, 1);
  assert.match(b.errors()[0][1], /send callback threw/);
});

test('BEFORE_SUBMIT_SDE hooks run in push order and can change or remove SDEs; non-object returns are ignored', async () => {
  const b = new Browser();
  const order = [];
  const w = b.load({
    before: (win) => {
      win.lpTag = { hooks: [] };
      win.lpTag.hooks.push({
        name: 'BEFORE_SUBMIT_SDE',
        callback(options) {
          order.push('first');
          options.data.sdes = options.data.sdes.filter((s) => s.type !== 'searchInfo');
          return options;
        },
      });
    },
  });
  w.lpTag.hooks.push({ name: 'BEFORE_SUBMIT_SDE', callback: () => (order.push('returns a string'), 'nope') });
  w.lpTag.hooks.push({ name: 'OTHER_HOOK', callback: () => order.push('other') });
  w.lpTag.hooks.push({
    name: 'BEFORE_SUBMIT_SDE',
    callback(options) {
      order.push('third');
      return { data: { sdes: options.data.sdes.map((s) => Object.assign({}, s, { total: 0 })) } };
    },
  });
  w.lpTag.hooks.push({ name: 'BEFORE_SUBMIT_SDE', callback: () => { order.push('throws'); throw new Error('hook'); } });
  w.lpTag.sdes.push([CART, SEARCH]);
  assert.deepEqual(order, ['first', 'returns a string', 'third', 'throws']);
  assert.deepEqual(plain(w.lpTag.sdes.get()), [Object.assign({}, CART, { total: 0 })]);
  assert.equal(b.errors().length, 1);
  await b.clock.advance(1000);
  assert.deepEqual(b.server.items('sdes').map((x) => x.item.sde.total), [0]);
});

test('a BEFORE_SUBMIT_SDE hook that empties the list stops the SDE', async () => {
  const b = new Browser();
  const w = b.load();
  w.lpTag.hooks.push({ name: 'BEFORE_SUBMIT_SDE', callback: (o) => ({ data: { sdes: [] } }) });
  w.lpTag.sdes.push(CART);
  await b.clock.advance(2000);
  assert.equal(b.server.items('sdes').length, 0);
  assert.equal(w.lpTag.events.hasFired('lp_sdes', 'VAR_ADDED').length, 0);
});

test('lpTag.section names the page’s sections, sent with the page view', async () => {
  const b = new Browser();
  b.load({ before: (win) => (win.lpTag = { section: ['shop', 'cart'], sdes: [CART] }) });
  await b.clock.advance(1000);
  assert.deepEqual(b.server.items('sdes')[0].envelope.page.sections, ['shop', 'cart']);
  const b2 = new Browser();
  b2.load({ before: (win) => (win.lpTag = { section: 'home', sdes: [CART] }) });
  await b2.clock.advance(1000);
  assert.deepEqual(b2.server.items('sdes')[0].envelope.page.sections, ['home']);
});

test('newPage(url, {section, sdes}) starts a new page view: new page id, referrer, sections, SDEs, and a new decision', async () => {
  const b = new Browser();
  const w = b.load({ before: (win) => (win.lpTag = { section: ['home'] }) });
  w.lpTag.sdes.push(CART);
  await b.clock.advance(1000);
  const first = b.server.items('sdes')[0].envelope;

  w.lpTag.newPage('https://shop.example/checkout', { section: ['shop', 'checkout'], sdes: [{ type: 'purchase', total: 5, orderId: 'A1' }] });
  assert.deepEqual(plain(w.lpTag.sdes.get()).map((s) => s.type), ['purchase'], 'get() holds the new page’s SDEs');
  assert.deepEqual(plain(w.lpTag.section), ['shop', 'checkout']);
  await b.clock.advance(1000);
  const second = b.server.items('sdes')[1].envelope;
  assert.notEqual(second.pageId, first.pageId);
  assert.match(second.pageId, UUID7);
  assert.equal(second.visitorId, first.visitorId);
  assert.equal(second.sessionId, first.sessionId);
  assert.deepEqual(second.page, {
    url: 'https://shop.example/checkout',
    referrer: 'https://shop.example/cart',
    title: 'Test page',
    sections: ['shop', 'checkout'],
  });
  const decisions = b.server.requests.filter((r) => /decision$/.test(r.url)).map((r) => JSON.parse(r.body));
  assert.equal(decisions.length, 2);
  assert.equal(decisions[1].pageId, second.pageId);
  assert.equal(decisions[1].url, 'https://shop.example/checkout');
  assert.deepEqual(decisions[1].sections, ['shop', 'checkout']);
  assert.deepEqual(decisions[1].sdes, [{ type: 'purchase', total: 5, orderId: 'A1' }]);
});

test('newPage without options keeps lpTag.section and uses location.href when no url is given', async () => {
  const b = new Browser();
  const w = b.load({ before: (win) => (win.lpTag = { section: ['home'] }) });
  w.lpTag.newPage();
  w.lpTag.sdes.push(CART);
  await b.clock.advance(1000);
  assert.deepEqual(b.server.items('sdes')[0].envelope.page.sections, ['home']);
  assert.equal(b.server.items('sdes')[0].envelope.page.url, 'https://shop.example/cart');
});

test('the snippet’s pre-load arrays (sdes, hooks) are taken over', async () => {
  const b = new Browser();
  const w = b.load({
    before: (win) => {
      runSnippet(win);
      win.lpTag.hooks.push({ name: 'BEFORE_SUBMIT_SDE', callback: (o) => (o.data.sdes[0].masked = true, o) });
      win.lpTag.sdes.push(CART);
    },
  });
  assert.equal(w.lpTag.sdes.get()[0].masked, true);
});
