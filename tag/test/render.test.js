// Engagement rendering and the LP_OFFERS lifecycle (docs/vocabulary.md, Events), unit
// level, against the decision endpoint's contract. The real rendering is checked in
// Chromium (tag/browser/).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { Browser, plain } = require('./helpers.js');

const engagement = (over = {}) =>
  Object.assign(
    {
      campaignId: 210599710,
      engagementId: 210600710,
      engagementRevision: 18,
      engagementType: 3,
      contextId: 'ctx-1',
      zoneId: 471288710,
      state: 1,
      confKey: '210599710_210600710_18',
      tglName: 'slider',
      engagementName: 'Slide-out chat button',
      timeoutSeconds: null,
      content: { title: 'Need help?', body: 'Chat with us', acceptLabel: 'Chat now', closeLabel: 'No thanks' },
    },
    over
  );

const withDecision = async (engagements, opts = {}) => {
  const b = new Browser();
  b.server.decision = { engagements };
  const w = b.load(opts);
  await b.clock.advance(0);
  return { b, w };
};
const lifecycle = (w) =>
  plain(w.lpTag.events.hasFired('LP_OFFERS', '*')).map((x) => x.eventName + ':' + x.data.contextId);
const hosts = (w) => w.document.querySelectorAll('[data-engagement-id]');
const control = (host, action) => [...host.shadowRoot.walk()].find((n) => n.getAttribute('data-action') === action);

test('the decision request carries the visit, page, sections and SDEs, as text/plain', async () => {
  const b = new Browser();
  b.load({ before: (win) => (win.lpTag = { section: ['shop'], sdes: [{ type: 'cart', total: 1 }] }) });
  await b.clock.advance(0);
  const r = b.server.requests.find((x) => /decision$/.test(x.url));
  assert.equal(r.url, 'https://engage.example:8443/api/account/acct1/decision');
  assert.equal(r.init.headers['content-type'], 'text/plain');
  const body = JSON.parse(r.body);
  assert.deepEqual(Object.keys(body), ['visitorId', 'sessionId', 'pageId', 'url', 'sections', 'sdes']);
  assert.deepEqual(body.sections, ['shop']);
  assert.deepEqual(body.sdes, [{ type: 'cart', total: 1 }]);
});

test('START and OFFER_DISPLAY carry every property of an LP_OFFERS event', async () => {
  const { w } = await withDecision([engagement()]);
  const start = plain(w.lpTag.events.hasFired('LP_OFFERS', 'START'))[0];
  assert.deepEqual(start.data, {
    contexts: [{ EngagementContext: { id: 'ctx-1' } }, { pageContext: { id: w.lpTag._engage.tag.pageId } }],
    campaignId: 210599710,
    engagementId: 210600710,
    engagementRevision: 18,
    engagementType: 3,
    contextId: 'ctx-1',
    zoneId: 471288710,
    state: 1,
    confKey: '210599710_210600710_18',
    tglName: 'slider',
    done: true,
    engagementName: 'Slide-out chat button',
  });
  const display = plain(w.lpTag.events.hasFired('LP_OFFERS', 'OFFER_DISPLAY'))[0];
  assert.deepEqual(display.data, start.data);
  assert.deepEqual(lifecycle(w), ['START:ctx-1', 'OFFER_DISPLAY:ctx-1']);
});

test('a null zoneId is left out rather than sent as null (the server wants a number)', async () => {
  const { w } = await withDecision([engagement({ zoneId: null })]);
  const start = plain(w.lpTag.events.hasFired('LP_OFFERS', 'START'))[0];
  assert.equal('zoneId' in start.data, false);
});

test('every engagement type renders an <engage-offer> host with its ids, type and state, and a shadow root', async () => {
  const types = [0, 1, 2, 3, 6];
  const { w } = await withDecision(types.map((t, i) => engagement({ engagementType: t, engagementId: 100 + t, contextId: 'c' + i, state: [1, 2, 4][i % 3] })));
  const list = hosts(w);
  assert.equal(list.length, types.length);
  list.forEach((host, i) => {
    assert.equal(host.localName, 'engage-offer');
    assert.equal(host.getAttribute('data-engagement-id'), String(100 + types[i]));
    assert.equal(host.getAttribute('data-context-id'), 'c' + i);
    assert.equal(host.getAttribute('data-engagement-type'), String(types[i]));
    assert.equal(host.getAttribute('data-state'), ['online', 'offline', 'busy'][i % 3]);
    assert.equal(host.shadowRoot.mode, 'open');
    assert.ok(control(host, 'accept'));
    assert.ok(control(host, 'close'));
    assert.match(host.style.cssText, /position:fixed/);
    assert.equal(host.parentNode, w.document.body);
  });
});

test('the state shows as a label and as the default accept label', async () => {
  const { w } = await withDecision([
    engagement({ contextId: 'a', state: 1, content: {} }),
    engagement({ contextId: 'b', state: 2, content: {} }),
    engagement({ contextId: 'c', state: 4, content: {} }),
  ]);
  const texts = hosts(w).map((h) => [...h.shadowRoot.walk()].find((n) => /\bst\b/.test(n.getAttribute('class') || '')).textContent);
  assert.deepEqual(texts, ['Online', 'Offline', 'Busy']);
  assert.deepEqual(hosts(w).map((h) => control(h, 'accept').textContent), ['Chat now', 'Leave a message', 'Wait for an agent']);
});

test('content is text, never markup', async () => {
  const { w } = await withDecision([engagement({ content: { title: '<img src=x onerror=alert(1)>', body: '<b>hi</b>' } })]);
  const nodes = [...hosts(w)[0].shadowRoot.walk()];
  assert.ok(nodes.some((n) => n.textContent === '<img src=x onerror=alert(1)>'));
  assert.ok(!nodes.some((n) => n.localName === 'img' || n.localName === 'b'));
});

test('an embedded engagement (type 5) goes into the element named by its zone', async () => {
  const b = new Browser();
  b.server.decision = { engagements: [engagement({ engagementType: 5, zoneId: 42 })] };
  const w = b.load({
    before: (win) => {
      const other = win.document.createElement('div');
      other.setAttribute('data-engage-zone', '7');
      const zone = win.document.createElement('div');
      zone.setAttribute('data-engage-zone', '42');
      win.document.body.append(other, zone);
    },
  });
  await b.clock.advance(0);
  const host = hosts(w)[0];
  assert.equal(host.parentNode.getAttribute('data-engage-zone'), '42');
  assert.match(host.style.cssText, /position:relative/);
  assert.deepEqual(lifecycle(w), ['START:ctx-1', 'OFFER_DISPLAY:ctx-1']);
});

test('an embedded engagement whose zone element is missing starts but is not displayed, with a warning', async () => {
  const { b, w } = await withDecision([engagement({ engagementType: 5, zoneId: 42 })]);
  assert.equal(hosts(w).length, 0);
  assert.deepEqual(lifecycle(w), ['START:ctx-1']);
  assert.ok(b.logs.some((l) => l[0] === 'warn' && /data-engage-zone="42"/.test(l[1])));
});

test('engagement type 4 (or anything unknown) is not shown', async () => {
  const { b, w } = await withDecision([engagement({ engagementType: 4 })]);
  assert.equal(hosts(w).length, 0);
  assert.deepEqual(lifecycle(w), []);
  assert.match(b.errors()[0][1], /type 4 cannot be shown/);
});

test('OFFER_IMPRESSION fires once, when the engagement is actually visible', async () => {
  const { b, w } = await withDecision([engagement()]);
  assert.deepEqual(lifecycle(w), ['START:ctx-1', 'OFFER_DISPLAY:ctx-1']);
  b.showAll();
  b.showAll();
  assert.deepEqual(lifecycle(w), ['START:ctx-1', 'OFFER_DISPLAY:ctx-1', 'OFFER_IMPRESSION:ctx-1']);
});

test('accept fires OFFER_CLICK, then the engagement leaves the page with OFFER_REMOVE', async () => {
  const { b, w } = await withDecision([engagement()]);
  b.showAll();
  control(hosts(w)[0], 'accept').click();
  await b.clock.advance(0);
  assert.deepEqual(lifecycle(w).slice(3), ['OFFER_CLICK:ctx-1', 'OFFER_REMOVE:ctx-1']);
  assert.equal(hosts(w).length, 0);
});

test('close fires OFFER_DECLINED then OFFER_REMOVE; a second click does nothing', async () => {
  const { b, w } = await withDecision([engagement()]);
  b.showAll();
  const close = control(hosts(w)[0], 'close');
  close.click();
  close.click();
  await b.clock.advance(0);
  assert.deepEqual(lifecycle(w).slice(3), ['OFFER_DECLINED:ctx-1', 'OFFER_REMOVE:ctx-1']);
});

test('OFFER_TIMEOUT fires timeoutSeconds after display, then OFFER_REMOVE', async () => {
  const { b, w } = await withDecision([engagement({ timeoutSeconds: 10 })]);
  b.showAll();
  await b.clock.advance(9999);
  assert.equal(hosts(w).length, 1);
  await b.clock.advance(1);
  assert.deepEqual(lifecycle(w).slice(3), ['OFFER_TIMEOUT:ctx-1', 'OFFER_REMOVE:ctx-1']);
  assert.equal(hosts(w).length, 0);
});

test('no timeout after the visitor answered', async () => {
  const { b, w } = await withDecision([engagement({ timeoutSeconds: 5 })]);
  control(hosts(w)[0], 'close').click();
  await b.clock.advance(10000);
  assert.ok(!lifecycle(w).includes('OFFER_TIMEOUT:ctx-1'));
});

test('OFFER_REMOVE fires when the page takes the engagement out of the DOM', async () => {
  const { b, w } = await withDecision([engagement({ timeoutSeconds: 5 })]);
  hosts(w)[0].remove();
  await b.clock.advance(0);
  assert.deepEqual(lifecycle(w), ['START:ctx-1', 'OFFER_DISPLAY:ctx-1', 'OFFER_REMOVE:ctx-1']);
  await b.clock.advance(10000);
  assert.equal(lifecycle(w).length, 3, 'no timeout for a removed engagement');
});

test('the whole lifecycle reaches the server, with client ids, in order', async () => {
  const { b, w } = await withDecision([engagement()]);
  b.showAll();
  control(hosts(w)[0], 'accept').click();
  await b.clock.advance(1000);
  const events = b.server.items('events').map((x) => x.item);
  assert.deepEqual(events.map((e) => e.eventName), ['START', 'OFFER_DISPLAY', 'OFFER_IMPRESSION', 'OFFER_CLICK', 'OFFER_REMOVE']);
  assert.ok(events.every((e, i) => i === 0 || e.id > events[i - 1].id));
  assert.deepEqual(events[0].data, plain(w.lpTag.events.hasFired('LP_OFFERS', 'START'))[0].data);
});

test('BEFORE_ENG_DISPLAY hooks can change an engagement before it starts, or cancel it', async () => {
  const b = new Browser();
  b.server.decision = { engagements: [engagement({ contextId: 'keep' }), engagement({ contextId: 'drop' })] };
  const w = b.load({
    before: (win) => {
      win.lpTag = {
        hooks: [
          { name: 'BEFORE_ENG_DISPLAY', callback: (o) => (o.data.engagement.state = 4, o) },
          { name: 'BEFORE_ENG_DISPLAY', callback: (o) => (o.data.engagement.contextId === 'drop' ? { data: { cancel: true } } : 42) },
        ],
      };
    },
  });
  await b.clock.advance(0);
  assert.deepEqual(lifecycle(w), ['START:keep', 'OFFER_DISPLAY:keep']);
  assert.equal(plain(w.lpTag.events.hasFired('LP_OFFERS', 'START'))[0].data.state, 4);
  assert.equal(hosts(w)[0].getAttribute('data-state'), 'busy');
});

// ---- BEFORE_ENG_CHANNEL_OPEN

test('BEFORE_ENG_CHANNEL_OPEN: hooks pushed before and after load run on accept, in order, between OFFER_CLICK and OFFER_REMOVE, with the engagement, the visit and the page', async () => {
  const seen = [];
  const b = new Browser();
  b.server.decision = { engagements: [engagement()] };
  const w = b.load({
    before: (win) => {
      win.lpTag = { hooks: [] }; // what the snippet prepares
      win.lpTag.hooks.push({
        name: 'BEFORE_ENG_CHANNEL_OPEN',
        callback: (o) => {
          seen.push(['early', plain(o.data), plain(win.lpTag.events.hasFired('LP_OFFERS', '*')).map((x) => x.eventName)]);
          o.data.url = 'https://chat.example/start?ctx=' + o.data.contextId;
          return o;
        },
      });
    },
  });
  await b.clock.advance(0);
  w.lpTag.hooks.push({ name: 'BEFORE_ENG_CHANNEL_OPEN', callback: (o) => (seen.push(['late', o.data.url]), o) });
  w.lpTag.hooks.push({ name: 'BEFORE_ENG_CHANNEL_OPEN', callback: () => 'not an object' });
  w.lpTag.hooks.push({ name: 'BEFORE_ENG_CHANNEL_OPEN', callback: () => { throw new Error('a broken hook'); } });
  w.lpTag.hooks.push({ name: 'BEFORE_ENG_CHANNEL_OPEN', callback: (o) => (seen.push(['after the throw', o.data.target]), o) });
  control(hosts(w)[0], 'accept').click();

  const [early, late, last] = seen;
  assert.equal(seen.length, 3);
  assert.equal(early[0], 'early');
  assert.deepEqual(early[2], ['START', 'OFFER_DISPLAY', 'OFFER_CLICK'], 'after OFFER_CLICK, before OFFER_REMOVE');
  const visit = w.lpTag._engage.visit;
  assert.deepEqual(early[1], {
    contexts: [{ EngagementContext: { id: 'ctx-1' } }, { pageContext: { id: w.lpTag._engage.tag.pageId } }],
    campaignId: 210599710,
    engagementId: 210600710,
    engagementRevision: 18,
    engagementType: 3,
    contextId: 'ctx-1',
    zoneId: 471288710,
    state: 1,
    confKey: '210599710_210600710_18',
    tglName: 'slider',
    done: true,
    engagementName: 'Slide-out chat button',
    content: { title: 'Need help?', body: 'Chat with us', acceptLabel: 'Chat now', closeLabel: 'No thanks' },
    visitorId: visit.visitorId,
    sessionId: visit.session(),
    pageId: w.lpTag._engage.tag.pageId,
    pageUrl: 'https://shop.example/cart',
    url: null,
    target: '_blank',
    handled: false,
  });
  assert.deepEqual(late, ['late', 'https://chat.example/start?ctx=ctx-1'], 'each hook sees the one before');
  assert.deepEqual(last, ['after the throw', '_blank']);
  assert.match(b.errors()[0][1], /BEFORE_ENG_CHANNEL_OPEN hook threw/);
  assert.deepEqual(b.opened, [{ url: 'https://chat.example/start?ctx=ctx-1', target: '_blank', features: 'noopener' }]);
  assert.deepEqual(lifecycle(w).map((x) => x.split(':')[0]), ['START', 'OFFER_DISPLAY', 'OFFER_CLICK', 'OFFER_REMOVE']);
  assert.equal(hosts(w).length, 0);
});

test('BEFORE_ENG_CHANNEL_OPEN: handled = true takes over the opening; a url set at BEFORE_ENG_DISPLAY is the default target', async () => {
  for (const handled of [false, true]) {
    const b = new Browser();
    b.server.decision = { engagements: [engagement()] };
    const w = b.load({
      before: (win) => {
        win.lpTag = {
          hooks: [
            { name: 'BEFORE_ENG_DISPLAY', callback: (o) => Object.assign(o.data.engagement, { url: '/chat', target: 'support' }) && o },
            { name: 'BEFORE_ENG_CHANNEL_OPEN', callback: (o) => ((o.data.handled = handled), o) },
          ],
        };
      },
    });
    await b.clock.advance(0);
    control(hosts(w)[0], 'accept').click();
    assert.deepEqual(b.opened, handled ? [] : [{ url: 'https://shop.example/chat', target: 'support', features: 'noopener' }], 'handled: ' + handled);
    assert.deepEqual(lifecycle(w).map((x) => x.split(':')[0]), ['START', 'OFFER_DISPLAY', 'OFFER_CLICK', 'OFFER_REMOVE']);
  }
});

test('BEFORE_ENG_CHANNEL_OPEN: without a url nothing opens; a url that is not http(s) or not a URL is refused with a warning; close does not run the hooks', async () => {
  for (const url of [undefined, 'javascript:alert(1)', 'http://[bad', { not: 'a string' }]) {
    const b = new Browser();
    b.server.decision = { engagements: [engagement({ contextId: 'a' }), engagement({ contextId: 'b' })] };
    let calls = 0;
    const w = b.load({ before: (win) => (win.lpTag = { hooks: [{ name: 'BEFORE_ENG_CHANNEL_OPEN', callback: (o) => (calls++, (o.data.url = url), o) }] }) });
    await b.clock.advance(0);
    control(hosts(w)[0], 'close').click();
    assert.equal(calls, 0);
    control(hosts(w)[0], 'accept').click();
    assert.equal(calls, 1);
    assert.deepEqual(b.opened, []);
    assert.equal(hosts(w).length, 0, 'the engagement left the page all the same');
    assert.equal(b.logs.filter((l) => l[0] === 'warn' && /not opening/.test(l[1])).length, url === undefined ? 0 : 1, String(url));
    assert.deepEqual(b.errors(), []);
  }
});

test('newPage removes the old page’s engagements (OFFER_REMOVE) and shows the new decision', async () => {
  const { b, w } = await withDecision([engagement({ contextId: 'old' })]);
  const oldPage = w.lpTag._engage.tag.pageId;
  b.server.decision = { engagements: [engagement({ contextId: 'new' })] };
  w.lpTag.newPage('https://shop.example/next');
  await b.clock.advance(0);
  assert.deepEqual(lifecycle(w), ['START:old', 'OFFER_DISPLAY:old', 'OFFER_REMOVE:old', 'START:new', 'OFFER_DISPLAY:new']);
  const fired = plain(w.lpTag.events.hasFired('LP_OFFERS', '*'));
  assert.equal(fired[2].data.contexts[1].pageContext.id, oldPage);
  assert.equal(fired[3].data.contexts[1].pageContext.id, w.lpTag._engage.tag.pageId);
  assert.equal(hosts(w).length, 1);
  await b.clock.advance(1000);
  const remove = b.server.items('events').find((x) => x.item.eventName === 'OFFER_REMOVE');
  assert.equal(remove.envelope.pageId, oldPage, 'sent as part of the page view it happened in');
});

test('a decision that arrives after newPage is not shown on the new page', async () => {
  const b = new Browser();
  b.server.decision = { engagements: [engagement()] };
  let release;
  const real = b.server.fetch.bind(b.server);
  b.server.fetch = (url, init) => (/decision$/.test(url) && !release ? new Promise((r) => (release = () => r(real(url, init)))) : real(url, init));
  const w = b.load();
  b.server.decision = { engagements: [] };
  w.lpTag.newPage('https://shop.example/next');
  release();
  await b.clock.advance(0);
  assert.equal(hosts(w).length, 0);
});

test('a failed decision shows nothing and says why', async () => {
  const b = new Browser();
  b.server.decisionStatus = 404;
  const w = b.load();
  await b.clock.advance(0);
  assert.equal(hosts(w).length, 0);
  assert.ok(b.logs.some((l) => l[0] === 'warn' && /decision answered 404/.test(l[1])));
});

test('a decision request that cannot reach the server shows nothing and says why', async () => {
  const b = new Browser();
  b.server.decision = { engagements: [engagement()] };
  b.server.mode = 'down';
  const w = b.load();
  await b.clock.advance(0);
  assert.equal(hosts(w).length, 0);
  assert.ok(b.logs.some((l) => l[0] === 'warn' && /no engagements: the server could not be reached/.test(l[1])));
});

test('rendering waits for the DOM when the tag runs while the page is still loading', async () => {
  const b = new Browser();
  b.server.decision = { engagements: [engagement()] };
  const w = b.load({ readyState: 'loading' });
  await b.clock.advance(0);
  assert.equal(hosts(w).length, 0);
  w.document.readyState = 'interactive';
  w.document.dispatch('DOMContentLoaded');
  assert.equal(hosts(w).length, 1);
});

// LivePerson's newPage example (developer-center,
// pages/documents/WebsiteMonitoring/LE-Tag/new-page-refresh.md): taglets.rendererStub.divIdsToKeep.
test('newPage keeps the engagements in the divs divIdsToKeep names, and does not show them twice', async () => {
  const b = new Browser();
  const embedded = engagement({ engagementType: 5, zoneId: 42, contextId: 'kept' });
  b.server.decision = { engagements: [embedded, engagement({ contextId: 'slider' })] };
  const w = b.load({
    before: (win) => {
      const zone = win.document.createElement('div');
      zone.setAttribute('id', 'MYDIV');
      zone.setAttribute('data-engage-zone', '42');
      win.document.body.append(zone);
    },
  });
  await b.clock.advance(0);
  assert.equal(hosts(w).length, 2);
  b.server.decision = { engagements: [embedded] };
  w.lpTag.newPage('https://x.com/newUrl/Cart.html', {
    section: ['sales', 'lang-english', 'lob-sales-english'],
    taglets: { rendererStub: { divIdsToKeep: { MYDIV: true } } },
  });
  await b.clock.advance(0);
  assert.deepEqual(lifecycle(w), ['START:kept', 'OFFER_DISPLAY:kept', 'START:slider', 'OFFER_DISPLAY:slider', 'OFFER_REMOVE:slider']);
  assert.equal(hosts(w).length, 1);
  assert.equal(hosts(w)[0].parentNode.id, 'MYDIV');
  // without divIdsToKeep it goes like the rest
  w.lpTag.newPage('https://x.com/other');
  await b.clock.advance(0);
  assert.deepEqual(lifecycle(w).slice(5), ['OFFER_REMOVE:kept', 'START:kept', 'OFFER_DISPLAY:kept']);
});
