// lpTag.events (docs/vocabulary.md, Event bus), unit level.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { Browser, plain, runSnippet } = require('./helpers.js');

const page = (opts) => {
  const b = new Browser();
  const w = b.load(opts);
  return { b, w, ev: w.lpTag.events };
};

test('bind(appName, eventName, fn) returns evId_<n> ids and the listener gets (data, {eventName, appName})', () => {
  const { ev } = page();
  const calls = [];
  const id1 = ev.bind('shop', 'ADD', (data, info) => calls.push([plain(data), plain(info)]));
  const id2 = ev.bind('shop', 'ADD', () => {});
  assert.match(id1, /^evId_\d+$/);
  assert.match(id2, /^evId_\d+$/);
  assert.notEqual(id1, id2);
  assert.equal(ev.trigger('shop', 'ADD', { sku: 'a' }), true);
  assert.deepEqual(calls, [[{ sku: 'a' }, { eventName: 'ADD', appName: 'shop' }]]);
});

test('bind({...}) defaults appName to "*", runs func with this = context', () => {
  const { ev } = page();
  const ctx = { name: 'ctx' };
  const calls = [];
  const id = ev.bind({ eventName: 'PING', func(d, info) { calls.push(['any', this, info.appName]); } });
  assert.match(id, /^evId_/);
  ev.bind({ eventName: 'PING', appName: 'x', context: ctx, func() { calls.push(['x', this]); } });
  ev.trigger('anyApp', 'PING', {});
  assert.deepEqual(calls, [['any', null, 'anyApp']]); // app "*" hears every app; "x" only its own
  calls.length = 0;
  ev.trigger('x', 'PING', {});
  assert.equal(calls.length, 2);
  assert.equal(calls[1][0], 'x');
  assert.equal(calls[1][1], ctx);
});

test('bind with a func array returns one id per function, and each runs', () => {
  const { ev } = page();
  const hits = [];
  const ids = ev.bind({ appName: 'a', eventName: 'E', func: [() => hits.push(1), () => hits.push(2)] });
  assert.equal(ids.length, 2);
  assert.notEqual(ids[0], ids[1]);
  ev.trigger('a', 'E');
  assert.deepEqual(hits, [1, 2]);
  assert.equal(ev.unbind(ids[0]), true);
  ev.trigger('a', 'E');
  assert.deepEqual(hits, [1, 2, 2]);
});

test('bind with bad arguments returns null and logs', () => {
  const { b, ev } = page();
  assert.equal(ev.bind('a', undefined, () => {}), null);
  assert.equal(ev.bind('a', 'E', 'not a function'), null);
  assert.equal(ev.bind({ appName: 'a', func() {} }), null);
  assert.equal(ev.bind(null), null);
  assert.equal(ev.bind({ eventName: 'E' }), null);
  assert.equal(b.errors().length, 5);
});

test('names match case-sensitively', () => {
  const { ev } = page();
  let n = 0;
  ev.bind('Shop', 'Added', () => n++);
  assert.equal(ev.trigger('shop', 'Added', {}), false);
  assert.equal(ev.trigger('Shop', 'added', {}), false);
  assert.equal(n, 0);
  assert.equal(ev.trigger('Shop', 'Added', {}), true);
  assert.equal(n, 1);
});

test('"*" as eventName hears every event; a trigger without an app reaches every listener of the event', () => {
  const { ev } = page();
  const seen = [];
  ev.bind('a', '*', (d, info) => seen.push('a:' + info.eventName));
  ev.bind('b', 'E', () => seen.push('b:E'));
  ev.bind('*', 'E', () => seen.push('*:E'));
  ev.trigger('a', 'X');
  assert.deepEqual(seen, ['a:X']);
  seen.length = 0;
  assert.equal(ev.trigger({ eventName: 'E' }), true); // no app: every listener of E
  assert.deepEqual(seen.sort(), ['*:E', 'a:E', 'b:E']);
  seen.length = 0;
  ev.trigger('*', 'E'); // "*" as the trigger's app: every app too
  assert.deepEqual(seen.sort(), ['*:E', 'a:E', 'b:E']);
  seen.length = 0;
  ev.trigger('b', 'E');
  assert.deepEqual(seen.sort(), ['*:E', 'b:E']);
});

test('trigger returns false with no listener, null without an event name', () => {
  const { b, ev } = page();
  assert.equal(ev.trigger('nobody', 'LISTENS', {}), false);
  assert.equal(ev.trigger('a'), null);
  assert.equal(ev.trigger({ appName: 'a' }), null);
  assert.equal(ev.trigger(), null);
  assert.equal(b.errors().length, 3);
});

test('listeners get a copy of the data unless passDataByRef', () => {
  const { ev } = page();
  const data = { nested: { n: 1 }, list: [1] };
  let got;
  ev.bind('a', 'E', (d) => {
    got = d;
    d.nested.n = 2;
    d.list.push(2);
  });
  ev.trigger('a', 'E', data);
  assert.notEqual(got, data);
  assert.deepEqual(data, { nested: { n: 1 }, list: [1] });
  ev.trigger({ appName: 'a', eventName: 'E', data, passDataByRef: true });
  assert.equal(got, data);
  assert.deepEqual(data, { nested: { n: 2 }, list: [1, 2] });
});

test('a throwing callback is caught and logged; the others still run', () => {
  const { b, ev } = page();
  const ran = [];
  ev.bind('a', 'E', () => ran.push(1));
  const bad = ev.bind('a', 'E', () => {
    throw new Error('boom');
  });
  ev.bind('a', 'E', () => ran.push(3));
  assert.equal(ev.trigger('a', 'E', {}), true);
  assert.deepEqual(ran, [1, 3]);
  const errors = b.errors();
  assert.equal(errors.length, 1);
  assert.match(errors[0][1], new RegExp('a/E \\(' + bad + '\\) threw'));
  assert.equal(errors[0][2].message, 'boom');
});

test('async listeners (bind async/aSync, trigger aSync, data.aSync) run on a later task', async () => {
  const { b, ev } = page();
  const order = [];
  ev.bind({ appName: 'a', eventName: 'E', async: true, func: () => order.push('async') });
  ev.bind({ appName: 'a', eventName: 'E', aSync: true, func: () => order.push('aSync') });
  ev.bind('a', 'E', () => order.push('sync'));
  ev.trigger('a', 'E', {});
  order.push('after trigger');
  assert.deepEqual(order, ['sync', 'after trigger']);
  await b.clock.advance(0);
  assert.deepEqual(order, ['sync', 'after trigger', 'async', 'aSync']);

  order.length = 0;
  ev.bind('b', 'F', () => order.push('listener'));
  ev.trigger({ appName: 'b', eventName: 'F', aSync: true });
  ev.trigger('b', 'F', { aSync: true });
  order.push('after');
  await b.clock.advance(0);
  assert.deepEqual(order, ['after', 'listener', 'listener']);
});

test('triggerOnce and once() unbind after the first call', () => {
  const { ev } = page();
  let a = 0;
  let b = 0;
  let c = 0;
  ev.bind({ appName: 'x', eventName: 'E', func: () => a++, triggerOnce: true });
  const id = ev.once('x', 'E', () => b++);
  ev.once({ appName: 'x', eventName: 'E', func: () => c++ });
  assert.match(id, /^evId_/);
  ev.trigger('x', 'E');
  ev.trigger('x', 'E');
  assert.deepEqual([a, b, c], [1, 1, 1]);
  assert.equal(ev.trigger('x', 'E'), false);
});

test('a once listener is not called twice when its callback triggers the same event again', () => {
  const { ev } = page();
  let n = 0;
  ev.once('x', 'E', () => {
    n++;
    ev.trigger('x', 'E');
  });
  ev.trigger('x', 'E');
  assert.equal(n, 1);
});

test('unbind(id) removes one listener and says whether it existed', () => {
  const { ev } = page();
  let n = 0;
  const id = ev.bind('a', 'E', () => n++);
  assert.equal(ev.unbind(id), true);
  assert.equal(ev.unbind(id), false);
  assert.equal(ev.unbind('evId_99999'), false);
  assert.equal(ev.trigger('a', 'E'), false);
  assert.equal(n, 0);
});

test('unbind({appName, eventName, func}) removes that function; without func every listener of the app and event', () => {
  const { ev } = page();
  const hits = [];
  const f = () => hits.push('f');
  const g = () => hits.push('g');
  ev.bind('a', 'E', f);
  ev.bind('a', 'E', g);
  ev.bind('b', 'E', g);
  ev.bind('a', 'F', g);
  assert.equal(ev.unbind({ appName: 'a', eventName: 'E', func: f }), true);
  ev.trigger('a', 'E');
  assert.deepEqual(hits, ['g']);
  assert.equal(ev.unbind({ appName: 'a', eventName: 'E' }), true);
  hits.length = 0;
  ev.trigger('a', 'E');
  ev.trigger('b', 'E');
  ev.trigger('a', 'F');
  assert.deepEqual(hits, ['g', 'g']); // b/E and a/F stay
  assert.equal(ev.unbind({ appName: 'a', eventName: 'E' }), false);
});

test('unbind by context removes the listeners bound with it', () => {
  const { ev } = page();
  const ctx = {};
  let n = 0;
  ev.bind({ appName: 'a', eventName: 'E', func: () => n++, context: ctx });
  ev.bind({ appName: 'a', eventName: 'E', func: () => (n += 10) });
  assert.equal(ev.unbind({ context: ctx }), true);
  ev.trigger('a', 'E');
  assert.equal(n, 10);
});

test('unbind with nothing to match returns false and logs; unbind of an id array', () => {
  const { b, ev } = page();
  assert.equal(ev.unbind({}), false);
  assert.equal(ev.unbind(), false);
  assert.equal(b.errors().length, 2);
  const ids = ev.bind({ appName: 'a', eventName: 'E', func: [() => {}, () => {}] });
  assert.equal(ev.unbind(ids), true);
  assert.equal(ev.trigger('a', 'E'), false);
});

test('a listener unbound by an earlier callback of the same trigger does not run', () => {
  const { ev } = page();
  let second = 0;
  let id2;
  ev.bind('a', 'E', () => ev.unbind(id2));
  id2 = ev.bind('a', 'E', () => second++);
  ev.trigger('a', 'E');
  assert.equal(second, 0);
});

test('hasFired returns past events [{appName, eventName, data}] with wildcards, oldest first', () => {
  const { ev } = page();
  ev.trigger('a', 'E1', { n: 1 });
  ev.trigger('b', 'E1', { n: 2 });
  ev.trigger('a', 'E2', { n: 3 });
  ev.trigger({ eventName: 'E1', data: { n: 4 } }); // no app
  const names = (list) => plain(list).map((x) => (x.appName || '-') + '/' + x.eventName + '/' + x.data.n);
  assert.deepEqual(names(ev.hasFired('a', 'E1')), ['a/E1/1', '-/E1/4']);
  assert.deepEqual(names(ev.hasFired('*', 'E1')), ['a/E1/1', 'b/E1/2', '-/E1/4']);
  assert.deepEqual(names(ev.hasFired('a', '*')), ['a/E1/1', 'a/E2/3', '-/E1/4']);
  // an event fired without an app belongs to every app
  assert.deepEqual(names(ev.hasFired({ appName: 'b', eventName: 'E1' })), ['b/E1/2', '-/E1/4']);
  assert.deepEqual(plain(ev.hasFired('a', 'NEVER')), []);
  const all = plain(ev.hasFired('*', '*')).filter((x) => x.appName !== 'lp_SMT');
  assert.equal(all.length, 4);
  assert.deepEqual(all[0], { appName: 'a', eventName: 'E1', data: { n: 1 } });
});

test('hasFired keeps a copy of the data; data.doNotStore keeps an event out of the history', () => {
  const { ev } = page();
  const data = { n: 1 };
  ev.trigger('a', 'E', data);
  data.n = 2;
  assert.equal(ev.hasFired('a', 'E')[0].data.n, 1);
  let heard = 0;
  ev.bind('a', 'SECRET', () => heard++);
  ev.trigger('a', 'SECRET', { doNotStore: true });
  assert.equal(heard, 1);
  assert.deepEqual(plain(ev.hasFired('a', 'SECRET')), []);
});

test('lpTag.eventBufferLimit makes the history a ring buffer of the newest events', () => {
  const b = new Browser();
  const w = b.load({ before: (win) => (win.lpTag = { eventBufferLimit: 3 }) });
  const ev = w.lpTag.events;
  for (let i = 1; i <= 5; i++) ev.trigger('a', 'E', { i });
  assert.deepEqual(plain(ev.hasFired('a', 'E')).map((x) => x.data.i), [3, 4, 5]);
  ev.trigger('a', 'E', { i: 6 });
  assert.deepEqual(plain(ev.hasFired('*', '*')).map((x) => x.data.i), [4, 5, 6]);

  const w0 = new Browser().load({ before: (win) => (win.lpTag = { eventBufferLimit: 0 }) });
  w0.lpTag.events.trigger('a', 'E', {});
  assert.deepEqual(plain(w0.lpTag.events.hasFired('*', '*')), []);
});

test('without eventBufferLimit the history keeps everything', () => {
  const { ev } = page();
  for (let i = 0; i < 1500; i++) ev.trigger('a', 'E', { i });
  assert.equal(ev.hasFired('a', 'E').length, 1500);
});

test('the aliases register/publish/unregister are bind/trigger/unbind', () => {
  const { ev } = page();
  assert.equal(ev.register, ev.bind);
  assert.equal(ev.publish, ev.trigger);
  assert.equal(ev.unregister, ev.unbind);
  let n = 0;
  const id = ev.register('a', 'E', () => n++);
  assert.equal(ev.publish('a', 'E'), true);
  assert.equal(ev.unregister(id), true);
  assert.equal(ev.publish('a', 'E'), false);
  assert.equal(n, 1);
});

test('the snippet queues bind and trigger calls; binds run first once the tag loads, so they hear the queued triggers', () => {
  const b = new Browser();
  const heard = [];
  const w = b.load({
    before: (win) => {
      runSnippet(win);
      win.lpTag.events.trigger('shop', 'EARLY', { n: 1 });
      win.lpTag.events.bind('shop', 'EARLY', (d, info) => heard.push(info.eventName + d.n));
      win.lpTag.events.bind({ appName: 'lp_sdes', eventName: 'VAR_ADDED', func: (d) => heard.push('sde:' + d.type) });
      win.lpTag.sdes.push({ type: 'cart', total: 1 });
    },
  });
  assert.deepEqual(heard, ['sde:cart', 'EARLY1']);
  assert.equal(w.lpTag._q, undefined);
  assert.equal(typeof w.lpTag.events.hasFired, 'function');
  w.lpTag.events.trigger('shop', 'EARLY', { n: 2 });
  assert.deepEqual(heard, ['sde:cart', 'EARLY1', 'EARLY2']);
});

test("LivePerson's snippet form (_defB/_defT deferred functions) is honoured too", () => {
  const b = new Browser();
  const heard = [];
  b.load({
    before: (win) => {
      win.lpTag = {
        site: 'acct1',
        _defT: [() => win.lpTag.events.trigger('app', 'LATE', { x: 1 })],
        _defB: [() => win.lpTag.events.bind('app', 'LATE', (d) => heard.push(d.x))],
      };
    },
  });
  assert.deepEqual(heard, [1]);
});

test('a queued call that throws is logged and the rest still run', () => {
  const b = new Browser();
  const heard = [];
  b.load({
    before: (win) => {
      win.lpTag = { _defB: [() => { throw new Error('bad'); }, () => win.lpTag.events.bind('a', 'E', () => heard.push(1))], _defT: [() => win.lpTag.events.trigger('a', 'E')] };
    },
  });
  assert.deepEqual(heard, [1]);
  assert.equal(b.errors().length, 1);
});

test('loading the tag twice keeps the first instance', () => {
  const b = new Browser();
  const w = b.load();
  const first = w.lpTag.events;
  const id = first.bind('a', 'E', () => {});
  const vm = require('node:vm');
  vm.runInContext(require('./helpers.js').SOURCE.source, w);
  assert.equal(w.lpTag.events, first);
  assert.equal(w.lpTag.events.unbind(id), true);
});

test('lp_SMT/MONITORING_STATE says the tag is active', () => {
  const { ev } = page();
  assert.deepEqual(plain(ev.hasFired('lp_SMT', 'MONITORING_STATE')), [
    { appName: 'lp_SMT', eventName: 'MONITORING_STATE', data: { active: true } },
  ]);
});
