// Engagement rendering and the LP_OFFERS lifecycle (docs/vocabulary.md, Events). Each
// engagement is an <engage-offer> element with its own shadow root: the page's CSS cannot
// reach inside it, and its styles cannot leak out. Its position is an inline style on the
// host, which the page's ordinary rules do not override. Both are set through the CSSOM (a
// constructed stylesheet shared by every shadow root, style.cssText on the host), which a
// page's Content-Security-Policy does not block the way it blocks <style> and style="".

const STATE_NAMES = { 1: 'Online', 2: 'Offline', 4: 'Busy' };
const STATE_ACTIONS = { 1: 'Chat now', 2: 'Leave a message', 4: 'Wait for an agent' };
const HOST_STYLES = {
  0: 'top:0;right:0',
  1: 'inset:0;display:flex;align-items:center;justify-content:center;background:rgba(20,24,31,.5)',
  2: 'right:16px;bottom:16px',
  3: 'right:0;top:50%;transform:translateY(-50%)',
  5: 'position:relative;display:block;z-index:auto',
  6: 'left:0;right:0;bottom:0',
};
// The font is the generic sans-serif: resolving system-ui (or a list of named families,
// each one the system has to look up) cost Chromium on Linux 1.5-2.7 ms of main-thread
// time at the first engagement's layout. A site can set its own on ::part(engagement).
const CSS =
  '.e{box-sizing:border-box;position:relative;width:300px;padding:16px 44px 16px 18px;background:#fff;color:#1f2328;' +
  'font:14px/1.45 sans-serif;text-align:left;border-radius:12px;' +
  'box-shadow:0 8px 28px rgba(0,0,0,.22);animation:in .25s ease-out}' +
  '@keyframes in{from{opacity:0;transform:translateY(10px)}}' +
  'strong{display:block;font-size:16px;margin:6px 0 4px}p{margin:0 0 12px}' +
  '.st{font-size:12px;font-weight:600;text-transform:uppercase;letter-spacing:.04em;color:#57606a}' +
  '.st:before{content:"";display:inline-block;width:8px;height:8px;margin-right:6px;border-radius:50%;background:var(--c)}' +
  '.s1{--c:#1a7f37}.s2{--c:#8c959f}.s4{--c:#d4a72c}' +
  'button{font:inherit;cursor:pointer;border:0}' +
  '[data-action=accept]{padding:8px 16px;border-radius:8px;background:#0b5cff;color:#fff;font-weight:600}' +
  '.s2~[data-action=accept]{background:#57606a}.s4~[data-action=accept]{background:#9a6700}' +
  '[data-action=close]{position:absolute;top:8px;right:8px;width:28px;height:28px;border-radius:50%;background:none;color:#57606a;font-size:20px;line-height:1}' +
  '[data-action=close]:hover{background:#eef1f4}' +
  '.t0{width:260px;padding:14px 44px 46px 64px;border-radius:0 0 0 150px;text-align:right;background:linear-gradient(225deg,#fff 78%,#dde5f6 78%)}' +
  '.t1{width:380px;padding:24px 48px 24px 24px}' +
  '.t3{border-radius:12px 0 0 12px;animation-name:out}@keyframes out{from{transform:translateX(100%)}}' +
  '.t5{width:auto;box-shadow:none;border:1px solid #d0d7de;animation:none}' +
  '.t6{width:auto;border-radius:0;display:flex;align-items:center;gap:16px;padding:10px 56px 10px 18px}' +
  '.t6 p,.t6 strong{margin:0}.t6 p{flex:1}';

// One parsed stylesheet for every engagement on the page, where the browser can share one.
let sharedSheet;
const sheet = () => {
  if (sharedSheet === undefined) {
    try {
      sharedSheet = new CSSStyleSheet();
      sharedSheet.replaceSync(CSS);
    } catch (e) {
      sharedSheet = null;
    }
  }
  return sharedSheet;
};

const el = (name, attributes, text) => {
  const n = document.createElement(name);
  for (const k in attributes) n.setAttribute(k, attributes[k]);
  if (text != null) n.textContent = text;
  return n;
};

// The element an embedded engagement goes into: data-engage-zone="<zoneId>" or
// id="engage-zone-<zoneId>".
const findZone = (zoneId) => {
  for (const n of document.querySelectorAll('[data-engage-zone]')) {
    if (n.getAttribute('data-engage-zone') === String(zoneId)) return n;
  }
  return document.getElementById('engage-zone-' + zoneId);
};

// After an accept: BEFORE_ENG_CHANNEL_OPEN hooks get what a page needs to open its own
// channel (the engagement, the visit, the page) and may change `url`/`target` or take
// over with `handled: true`; then the tag opens `url` (http or https only), if there is one,
// in `target`. Engage has no chat window of its own: without a url nothing opens. Runs in
// the click's task, so that a browser's popup blocker lets window.open through.
const openChannel = (tag, e, data) => {
  const options = runHooks('BEFORE_ENG_CHANNEL_OPEN', {
    data: Object.assign(copy(data), tag.ids(), {
      content: copy(e.content || {}),
      pageId: tag.pageId,
      pageUrl: tag.url,
      url: e.url || null,
      target: e.target || '_blank',
      handled: false,
    }),
  });
  const d = (options && options.data) || {};
  if (d.handled || !d.url) return;
  try {
    const u = new URL(d.url, location.href).href;
    if (typeof d.url !== 'string' || !/^https?:/.test(u)) throw 0;
    window.open(u, d.target || '_blank', 'noopener');
  } catch (err) {
    log('warn', 'not opening (http or https only)', d.url);
  }
};

const createRenderer = (tag) => {
  const live = [];
  let watcher = null;

  // One observer for every engagement on the page: whoever takes one out of the DOM
  // (the site, a single-page app's router, this tag), OFFER_REMOVE follows.
  const watch = () => {
    if (watcher || typeof MutationObserver !== 'function') return;
    watcher = new MutationObserver(() => {
      for (const x of live.slice()) if (!x.host.isConnected) x.removed();
    });
    watcher.observe(document.documentElement, { childList: true, subtree: true });
  };

  const show = (engagement) => {
    const options = runHooks('BEFORE_ENG_DISPLAY', { data: { engagement } });
    const od = (options && options.data) || {};
    if (od.cancel) return;
    const e = od.engagement || engagement;
    const type = +e.engagementType;
    const hostStyle = HOST_STYLES[type];
    if (!hostStyle) return log('error', 'engagement type ' + e.engagementType + ' cannot be shown', e);
    const data = {
      contexts: [{ EngagementContext: { id: e.contextId } }, { pageContext: { id: tag.pageId } }],
      campaignId: e.campaignId,
      engagementId: e.engagementId,
      engagementRevision: e.engagementRevision,
      engagementType: type,
      contextId: e.contextId,
      zoneId: e.zoneId,
      state: e.state,
      confKey: e.confKey,
      tglName: e.tglName,
      done: true,
      engagementName: e.engagementName,
    };
    if (data.zoneId == null) delete data.zoneId;
    // An embedded engagement kept across newPage (divIdsToKeep) is not shown twice in its
    // element when the new page's decision names it again.
    const zone = type === 5 ? findZone(e.zoneId) : null;
    if (zone && live.some((x) => x.parent === zone && x.engagementId === String(e.engagementId))) return;
    const fire = (name) => tag.events.trigger('LP_OFFERS', name, data);
    fire('START');

    let parent = document.body;
    if (type === 5 && !(parent = zone)) {
      return log('warn', 'no element data-engage-zone="' + e.zoneId + '" for embedded engagement ' + e.engagementId);
    }
    const c = e.content || {};
    const title = c.title || e.engagementName || '';
    const host = el('engage-offer', {
      'data-engagement-id': e.engagementId,
      'data-context-id': e.contextId,
      'data-engagement-type': type,
      'data-state': (STATE_NAMES[e.state] || '').toLowerCase(),
    });
    host.style.cssText = 'all:initial;position:fixed;z-index:2147483000;' + hostStyle;
    const card = el('div', { class: 'e t' + type, part: 'engagement', role: type === 1 ? 'dialog' : 'complementary', 'aria-label': title });
    const close = el('button', { 'data-action': 'close', 'aria-label': c.closeLabel || 'Close', title: c.closeLabel || 'Close' }, '\u00d7');
    const accept = el('button', { 'data-action': 'accept' }, c.acceptLabel || STATE_ACTIONS[e.state] || 'Chat now');
    card.append(close, el('span', { class: 'st s' + e.state }, STATE_NAMES[e.state] || ''), el('strong', {}, title));
    if (c.body) card.append(el('p', {}, c.body));
    card.append(accept);
    const root = host.attachShadow({ mode: 'open' });
    if (sheet() && root.adoptedStyleSheets) root.adoptedStyleSheets = [sheet()];
    else root.append(el('style', {}, CSS));
    root.append(card);

    let timer = 0;
    let seen = null;
    const x = { host, parent, engagementId: String(e.engagementId), ended: false, gone: false };
    x.removed = () => {
      if (x.gone) return;
      x.gone = true;
      clearTimeout(timer);
      if (seen) seen.disconnect();
      live.splice(live.indexOf(x), 1);
      if (!live.length && watcher) {
        watcher.disconnect();
        watcher = null;
      }
      fire('OFFER_REMOVE');
    };
    // The visitor's answer (or the timeout) ends it; then it leaves the page. `then` runs
    // between the event and the removal (the channel opening after OFFER_CLICK).
    x.end = (name, then) => {
      if (x.ended || x.gone) return;
      x.ended = true;
      if (name) fire(name);
      if (then) then();
      host.remove();
      x.removed();
    };
    // An engagement with an action (a link, a form, a coupon, a chat) is handed to the
    // action renderers, loaded only then (tag/src/actions.js); they own the accept button.
    e.action ? tag.act([e, data, card, x, fire, openChannel]) : accept.addEventListener('click', () => x.end('OFFER_CLICK', () => openChannel(tag, e, data)));
    close.addEventListener('click', () => x.end('OFFER_DECLINED'));

    parent.append(host);
    live.push(x);
    watch();
    fire('OFFER_DISPLAY');
    if (typeof IntersectionObserver === 'function') {
      seen = new IntersectionObserver(
        (entries) => {
          if (!entries.some((en) => en.isIntersecting)) return;
          seen.disconnect();
          seen = null;
          if (!x.gone) fire('OFFER_IMPRESSION');
        },
        { threshold: 0.5 }
      );
      seen.observe(card);
    }
    if (e.timeoutSeconds > 0) timer = setTimeout(() => x.end('OFFER_TIMEOUT'), e.timeoutSeconds * 1000);
  };

  // A new page view in a single-page app: the old page's engagements go, but those in an
  // element whose id `keep` names (LivePerson's newPage taglets.rendererStub.divIdsToKeep).
  const clear = (keep) => {
    for (const x of live.slice()) {
      const id = x.parent !== document.body && x.parent.id;
      if (!(id && keep && keep[id])) x.end(null);
    }
  };

  return { show, clear };
};
