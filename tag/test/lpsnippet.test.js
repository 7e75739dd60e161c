// A page that keeps LivePerson's published web tag snippet and only sets lpTag.ovr.domain
// to the Engage host: the lpTag it prepares (test/lp-shape.js builds one the same way) is
// taken over. LivePerson's description of the snippet: developer-center,
// pages/documents/WebsiteMonitoring/LE-Tag/ (the tag's events, SDEs, hooks and identities).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { Browser, plain, SOURCE } = require('./helpers.js');

const SHAPE = fs.readFileSync(path.join(__dirname, 'lp-shape.js'), 'utf8');
const HOST = 'engage.test:9443';
const CART = { type: 'cart', total: 11.7, currency: 'USD', products: [{ product: { name: 'prod1', sku: 'sku1', price: 7.8 }, quantity: 1 }] };

// Loads a page whose head runs the snippet-shaped lpTag (then `page(win)`, the page's own
// inline code), and then the tag, as the snippet's _load would from ovr.domain.
function load(b, page, opts = {}) {
  return b.load(
    Object.assign(
      {
        scriptSrc: `https://${HOST}/tag/tag.js?site=acct1`,
        before: (win) => {
          win._lptStop = true; // the snippet's own switch: do not insert the script, the test loads the tag
          if (opts.prepare) opts.prepare(win);
          vm.runInContext(SHAPE + `\nlpShapedSnippet('acct1', '${HOST}', 'https:');`, win);
          if (page) page(win);
        },
      },
      opts.load
    )
  );
}

test('the snippet-shaped lpTag is what LivePerson publishes: queues, flags and arrays', () => {
  const b = new Browser();
  const w = b.load({ before: (win) => { win._lptStop = true; vm.runInContext(SHAPE + "\nlpShapedSnippet('acct1', 'h', 'https:');", win); } });
  // (the tag then took it over; the prepared arrays are still the same objects)
  for (const k of ['vars', 'dbs', 'ctn', 'hooks', 'identities', 'ev']) assert.ok(Array.isArray(w.lpTag[k]), k);
  assert.equal(w.lpTag._tagCount, 1);
  assert.equal(w.lpTag._v, '1.10.0');
});

test('_defB run before the prepared SDEs are taken, _defT after them, _defL once the tag has started', async () => {
  const b = new Browser();
  const order = [];
  const w = load(b, (win) => {
    const t = win.lpTag;
    t.events.bind('lp_sdes', 'VAR_ADDED', (d) => order.push('sde:' + d.type));
    t.events.bind('shop', 'OPEN', (d) => order.push('trigger:' + d.n));
    t.events.bind('lp_SMT', 'MONITORING_STATE', () => order.push('started'));
    t.sdes.push(CART);
    t.events.trigger('shop', 'OPEN', { n: 1 });
    t.defer(() => order.push('loaded'));
    assert.equal(t._defB.length, 3);
    assert.equal(t._defT.length, 1);
    assert.equal(t._defL.length, 1);
  });
  assert.deepEqual(order, ['sde:cart', 'trigger:1', 'started', 'loaded']);
  for (const k of ['_defB', '_defT', '_defL']) assert.equal(w.lpTag[k], undefined, k);
  // defer after load: binds and triggers at once, "loaded" functions at once too
  w.lpTag.defer(() => order.push('late'));
  assert.equal(order.at(-1), 'late');
  await b.clock.advance(1000);
  assert.deepEqual(b.server.items('sdes').map((x) => x.item.sde), [CART]);
});

test('autoStart: false sends nothing and asks nothing until lpTag.start()', async () => {
  const b = new Browser();
  const order = [];
  const w = load(
    b,
    (win) => {
      win.lpTag.sdes.push(CART);
      win.lpTag.defer(() => order.push('loaded'));
    },
    { prepare: (win) => { win.lpTag = { autoStart: false }; } }
  );
  assert.equal(w.lpTag.autoStart, false);
  // the bus and the API work already
  assert.deepEqual(plain(w.lpTag.sdes.get()), [CART]);
  await b.clock.advance(5000);
  assert.equal(b.server.requests.length, 0);
  assert.deepEqual(order, []);
  w.lpTag.start();
  assert.deepEqual(order, ['loaded']);
  await b.clock.advance(1000);
  assert.ok(b.server.requests.some((r) => /\/decision$/.test(r.url)));
  assert.deepEqual(b.server.items('sdes').map((x) => x.item.sde), [CART]);
  w.lpTag.start(); // a second start changes nothing
  assert.deepEqual(order, ['loaded']);
});

test('lpTag.start() called before the tag arrived (the snippet lifts autoStart) starts it on load', async () => {
  const b = new Browser();
  load(b, (win) => win.lpTag.start(), { prepare: (win) => { win.lpTag = { autoStart: false }; } });
  await b.clock.advance(1000);
  assert.ok(b.server.requests.some((r) => /\/decision$/.test(r.url)));
});

test('the prepared vars, sdes, hooks, identities and ev arrays are taken', async () => {
  const b = new Browser();
  const prepared = {};
  const w = load(b, (win) => {
    for (const k of ['vars', 'identities', 'ev', 'hooks']) prepared[k] = win.lpTag[k];
    win.lpTag.identities.push((cb) => cb({ iss: 'https://idp.example', acr: 'loa1', sub: 'u1' }));
    win.lpTag.hooks.push({ name: 'BEFORE_SUBMIT_SDE', callback: (o) => { o.data.sdes[0].total = 1; return o; } });
    win.lpTag.sdes.push(CART);
  });
  for (const k of ['vars', 'identities', 'ev', 'hooks']) assert.equal(w.lpTag[k], prepared[k], k);
  assert.equal(w.lpTag.identities.length, 1);
  await b.clock.advance(1000);
  assert.deepEqual(b.server.items('sdes').map((x) => x.item.sde.total), [1]);
});

test("the snippet's LPT/DOM_READY is heard, before and after the tag loaded, once", () => {
  const b = new Browser();
  const heard = [];
  const w = load(b, (win) => {
    win.lpTag.events.bind('LPT', 'DOM_READY', (d) => heard.push(d.t));
  });
  assert.deepEqual(heard, []);
  w.dispatch('DOMContentLoaded');
  w.dispatch('load');
  assert.deepEqual(heard, ['contReady']);
  assert.equal(w.lpTag.events.hasFired('LPT', 'DOM_READY').length, 1);

  // DOM ready before the tag arrived: the trigger waited in _defT
  const b2 = new Browser();
  const heard2 = [];
  load(b2, (win) => {
    win.lpTag.events.bind('LPT', 'DOM_READY', (d) => heard2.push(d.t));
    win.dispatch('DOMContentLoaded');
  });
  assert.deepEqual(heard2, ['contReady']);
});

test('_tagCount: a second snippet only counts, a second tag counts and does nothing', () => {
  const b = new Browser();
  const w = load(b, (win) => vm.runInContext("lpShapedSnippet('other', 'elsewhere', 'https:');", win));
  assert.equal(w.lpTag._tagCount, 2);
  assert.equal(w.lpTag.site, 'acct1');
  const events = w.lpTag.events;
  vm.runInContext(SOURCE.source, w);
  assert.equal(w.lpTag._tagCount, 3);
  assert.equal(w.lpTag.events, events);
  // Engage's own snippet leaves no count: the tag starts one
  const b2 = new Browser();
  assert.equal(b2.load().lpTag._tagCount, 1);
});

test('lpTag.ovr.domain is the host the tag sends to', async () => {
  const b = new Browser();
  const w = load(b, (win) => win.lpTag.sdes.push(CART), { load: { scriptSrc: null } });
  assert.equal(w.lpTag._engage.base, `https://${HOST}`);
  await b.clock.advance(1000);
  assert.ok(b.server.requests.length > 0);
  for (const r of b.server.requests) assert.ok(r.url.startsWith(`https://${HOST}/api/account/acct1/`), r.url);
});
