// The hand-off to the action renderers (/tag/actions.js) and the actions that need no
// form: the tag loads the script once, only for an engagement with an action; the link
// fills its placeholders; the chat opens each provider's widget through its public API
// or falls back to BEFORE_ENG_CHANNEL_OPEN. Both builds of the renderers are run. The
// form and the coupon are tested in Chromium (tag/browser/actions.test.mjs).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const vm = require('node:vm');
const { Browser, plain, SOURCE } = require('./helpers.js');

const engagement = (over = {}) =>
  Object.assign(
    {
      campaignId: 1,
      engagementId: 20,
      engagementRevision: 3,
      engagementType: 2,
      contextId: 'ctx 1',
      zoneId: null,
      state: 1,
      confKey: '1_20_3',
      tglName: 'toaster',
      engagementName: 'Chat',
      timeoutSeconds: null,
      content: { title: 't', body: null, acceptLabel: null, closeLabel: null },
    },
    over
  );
const hosts = (w) => w.document.querySelectorAll('[data-engagement-id]');
const accept = (host) => [...host.shadowRoot.walk()].find((n) => n.getAttribute('data-action') === 'accept');
const lifecycle = (w) => plain(w.lpTag.events.hasFired('LP_OFFERS', '*')).map((x) => x.eventName);
const scripts = (w) => w.document.head.children.filter((n) => n.localName === 'script').map((n) => n.getAttribute('src'));

async function page(engagements, before) {
  const b = new Browser();
  b.server.decision = { engagements };
  const w = b.load({ before });
  await b.clock.advance(0);
  return { b, w };
}

test('an engagement with an action loads /tag/actions.js once; without one nothing is loaded', async () => {
  const { w } = await page([engagement(), engagement({ contextId: 'c2', engagementId: 21, action: { type: 'chat' } }), engagement({ contextId: 'c3', engagementId: 22, action: { type: 'link', url: 'https://x.example/' } })]);
  assert.deepEqual(scripts(w), ['https://engage.example:8443/tag/actions.js']);
  assert.equal(w.lpTag._engage.tag.acts.length, 2, 'waiting for the renderers');
  // Until they run, accepting an engagement with an action does nothing.
  accept(hosts(w)[1]).click();
  assert.deepEqual(lifecycle(w).filter((n) => n === 'OFFER_CLICK'), []);
  const plainPage = await page([engagement()]);
  assert.deepEqual(scripts(plainPage.w), []);
});

for (const build of ['actions', 'actionsMin']) {
  test(`${build}: the queue runs when the renderers load, and later engagements at once`, async () => {
    const { b, w } = await page([engagement({ action: { type: 'chat' } })]);
    vm.runInContext(SOURCE[build], w);
    assert.equal(w.lpTag._engage.tag.acts.length, 0);
    // Loaded twice (a second tag on the page): nothing runs twice.
    vm.runInContext(SOURCE[build], w);
    accept(hosts(w)[0]).click();
    assert.deepEqual(lifecycle(w), ['START', 'OFFER_DISPLAY', 'OFFER_CLICK', 'OFFER_REMOVE']);
    assert.deepEqual(b.errors(), []);
    // A newPage's engagement with an action is rendered at once, without a new script.
    b.server.decision = { engagements: [engagement({ contextId: 'c9', action: { type: 'link', url: 'https://x.example/{contextId}' } })] };
    w.lpTag.newPage('https://shop.example/next');
    await b.clock.advance(0);
    accept(hosts(w)[0]).click();
    assert.deepEqual(b.opened.map((o) => o.url), ['https://x.example/c9']);
    assert.equal(scripts(w).length, 1);
  });

  test(`${build}: a link fills {contextId} and {engagementId} (encoded) and opens in this tab or a new one`, async () => {
    for (const newTab of [false, true]) {
      let seen = null;
      const { b, w } = await page([engagement({ action: { type: 'link', url: 'https://land.example/p?c={contextId}&e={engagementId}&again={contextId}', newTab } })], (win) => {
        win.lpTag = { hooks: [{ name: 'BEFORE_ENG_CHANNEL_OPEN', callback: (o) => ((seen = o.data.url), o) }] };
      });
      vm.runInContext(SOURCE[build], w);
      accept(hosts(w)[0]).click();
      const url = 'https://land.example/p?c=ctx%201&e=20&again=ctx%201';
      assert.equal(seen, url);
      assert.deepEqual(b.opened, [{ url, target: newTab ? '_blank' : '_self', features: 'noopener' }]);
      assert.deepEqual(lifecycle(w), ['START', 'OFFER_DISPLAY', 'OFFER_CLICK', 'OFFER_REMOVE']);
    }
  });

  test(`${build}: chat opens each provider's widget through its public API, else the hook`, async () => {
    const widgets = {
      intercom: (win, calls) => (win.Intercom = (...a) => calls.push(a)),
      zendesk: (win, calls) => (win.zE = (...a) => calls.push(a)),
      crisp: (win, calls) => (win.$crisp = { push: (a) => calls.push(a) }),
      tawk: (win, calls) => (win.Tawk_API = { maximize: () => calls.push(['maximize']) }),
      livechat: (win, calls) => (win.LiveChatWidget = { call: (...a) => calls.push(a) }),
    };
    const expected = {
      intercom: [['show']],
      zendesk: [['messenger', 'open']],
      crisp: [['do', 'chat:open']],
      tawk: [['maximize']],
      livechat: [['maximize']],
    };
    for (const [provider, install] of Object.entries(widgets)) {
      for (const present of [true, false]) {
        const calls = [];
        let hooked = 0;
        const { b, w } = await page([engagement({ action: { type: 'chat', provider } })], (win) => {
          if (present) install(win, calls);
          win.lpTag = { hooks: [{ name: 'BEFORE_ENG_CHANNEL_OPEN', callback: (o) => (hooked++, o) }] };
        });
        vm.runInContext(SOURCE[build], w);
        accept(hosts(w)[0]).click();
        assert.deepEqual(plain(calls), present ? expected[provider] : [], provider);
        assert.equal(hooked, present ? 0 : 1, `${provider} present: ${present}`);
        assert.deepEqual(lifecycle(w), ['START', 'OFFER_DISPLAY', 'OFFER_CLICK', 'OFFER_REMOVE']);
        assert.deepEqual(b.errors(), []);
      }
    }
  });

  test(`${build}: a widget that throws falls back to the hook with a warning; an unknown action leaves the engagement as it is`, async () => {
    let hooked = 0;
    const { b, w } = await page([engagement({ action: { type: 'chat', provider: 'intercom' } }), engagement({ contextId: 'c2', engagementId: 21, action: { type: 'teleport' } })], (win) => {
      win.Intercom = () => {
        throw new Error('not booted');
      };
      win.lpTag = { hooks: [{ name: 'BEFORE_ENG_CHANNEL_OPEN', callback: (o) => (hooked++, o) }] };
    });
    vm.runInContext(SOURCE[build], w);
    accept(hosts(w)[0]).click();
    assert.equal(hooked, 1);
    assert.ok(b.logs.some((l) => l[0] === 'warn' && /intercom widget could not be opened/.test(l[1])));
    assert.ok(b.logs.some((l) => l[0] === 'warn' && /unknown action teleport/.test(l[1])));
  });

  test(`${build}: a revealed coupon outlives the display timeout, and closing it is not a decline`, async () => {
    const { b, w } = await page([
      engagement({ timeoutSeconds: 5, action: { type: 'coupon', code: 'SAVE-10' } }),
      engagement({ contextId: 'c2', engagementId: 21, zoneId: 2, timeoutSeconds: 5, action: { type: 'coupon', code: 'OTHER' } }),
    ]);
    vm.runInContext(SOURCE[build], w);
    const heard = [];
    w.lpTag.events.bind('ENGAGE_ACTION', '*', (d, info) => heard.push([info.eventName, d.code, d.contextId]));
    const [revealed] = hosts(w);
    accept(revealed).click();
    const code = [...revealed.shadowRoot.walk()].find((n) => n.hasAttribute('data-coupon'));
    assert.equal(code.textContent, 'SAVE-10');
    assert.deepEqual(plain(heard), [['COUPON_REVEALED', 'SAVE-10', 'ctx 1']]);
    await b.clock.advance(10000);
    const names = (ctx) => plain(w.lpTag.events.hasFired('LP_OFFERS', '*')).filter((x) => x.data.contextId === ctx).map((x) => x.eventName);
    // The untouched one timed out; the revealed one stays.
    assert.deepEqual(names('c2'), ['START', 'OFFER_DISPLAY', 'OFFER_TIMEOUT', 'OFFER_REMOVE']);
    assert.deepEqual(hosts(w), [revealed]);
    [...revealed.shadowRoot.walk()].find((n) => n.getAttribute('data-action') === 'close').click();
    assert.deepEqual(names('ctx 1'), ['START', 'OFFER_DISPLAY', 'OFFER_CLICK', 'OFFER_REMOVE']);
    assert.equal(hosts(w).length, 0);
  });
}
