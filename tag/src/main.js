// Installs window.lpTag: takes over what the embed snippet queued (bind/trigger calls,
// SDE pushes, hooks), starts the visit, asks the server what to show, and sends what
// happens on the page.

const lpTag = (window.lpTag = window.lpTag || {});
// LivePerson's snippet counts its own runs in _tagCount; a tag loaded again while one is
// running counts too and does nothing else.
if (lpTag._engage) lpTag._tagCount = (+lpTag._tagCount || 1) + 1;
else {
  if (lpTag._tagCount === undefined) lpTag._tagCount = 1;
  const script =
    document.currentScript || [].find.call(document.scripts || [], (s) => /\/tag\/tag(\.min)?\.js/.test(s.src));
  const src = script && script.src ? new URL(script.src, location.href) : null;
  // LivePerson's snippet names the tag's host in lpTag.ovr.domain (and loads the tag from
  // it); when set, that is where everything goes, with the snippet's lpTag.protocol.
  const ovr = lpTag.ovr && typeof lpTag.ovr.domain === 'string' && lpTag.ovr.domain ? lpTag.ovr.domain : '';
  const scheme = /^https?:$/.test(lpTag.protocol) ? lpTag.protocol : src ? src.protocol : location.protocol;
  const base = ovr ? scheme + '//' + ovr : src ? src.origin : location.origin;
  const site = (src && src.searchParams.get('site')) || lpTag.site;
  if (!site) log('error', 'no account (tag.js?site= or lpTag.site)');
  lpTag.site = site || '';

  const queued = lpTag._q || []; // the snippet's [method, arguments] pairs
  const preSdes = Array.isArray(lpTag.sdes) ? lpTag.sdes : [];
  lpTag.hooks = lpTag.hooks || [];
  // The other arrays LivePerson's snippet prepares: kept as they are (pushes after load
  // land in the same arrays); Engage sends none of them.
  for (const k of ['vars', 'identities', 'ev']) if (!Array.isArray(lpTag[k])) lpTag[k] = [];

  const events = createEvents(lpTag.eventBufferLimit);
  // Consent: lpTag.consent (or lpTag.ovr.consent, which LivePerson's snippet keeps) set
  // before load to 'required' keeps the tag from storing or sending anything until
  // lpTag.consent.grant(); 'granted' is the same, already granted; 'withdrawn' clears what
  // an earlier page stored. Without it the tag runs as it always has ('none').
  const preset = typeof lpTag.consent === 'string' ? lpTag.consent : lpTag.ovr && lpTag.ovr.consent;
  let consent = preset === 'required' ? 'pending' : preset === 'granted' || preset === 'withdrawn' ? preset : 'none';
  // The visit exists only while the tag may store its ids.
  let visit = null;
  const sections = () => {
    const s = lpTag.section;
    return (Array.isArray(s) ? s : s ? [s] : []).map(String);
  };
  const tag = {
    events,
    pageId: uuid7(),
    pageSdes: [],
    page: null,
    url: location.href,
  };
  const pageInfo = (referrer) => ({
    url: tag.url,
    referrer: referrer || '',
    title: document.title || '',
    sections: sections(),
  });
  tag.page = pageInfo(document.referrer);
  tag.ids = () => (visit ? { visitorId: visit.visitorId, sessionId: visit.session() } : { visitorId: null, sessionId: null });

  const api = (path) => base + '/api/account/' + encodeURIComponent(site) + path;
  const transport = site ? createTransport(api('/events'), site, tag.pageId) : null;
  // Queues an item for the server; false when it can never be sent (too large). `later`:
  // the outbox takes it when the page is idle (see createTransport).
  // Until the tag monitors (lpTag.autoStart === false waits for lpTag.start(), a consent
  // gate for lpTag.consent.grant()), items wait here in memory rather than in the outbox,
  // so that nothing is stored or reaches the server before; with consent withdrawn they
  // are not kept at all.
  let started = false;
  const held = [];
  const toOutbox = ([collection, pageId, page, item, later]) =>
    transport.add(collection, { v: visit.visitorId, s: visit.session(), p: pageId }, page, item, later);
  tag.enqueue = (collection, item, later) => {
    if (!transport) return true;
    if (consent === 'withdrawn') return false;
    const args = [collection, tag.pageId, tag.page, item, later];
    if (!started) {
      if (held.push(args) > MAX_OUTBOX) held.shift();
      return true;
    }
    return toOutbox(args);
  };
  tag.uuid = uuid7;
  tag.send = (ids, cb) => (transport ? transport.send(ids, cb) : cb && cb(new Error('no account')));

  // Only LP_OFFERS events go to the server; the bus carries everything else. Their id and
  // time are taken now; writing them to the outbox waits until the page is idle, so that
  // it does not delay the engagement they are about (0.5 ms of Chromium's main thread
  // before the first one is painted).
  events.bind('LP_OFFERS', '*', (data, info) => {
    if (info.appName === 'LP_OFFERS') tag.enqueue('events', { id: uuid7(), time: now(), appName: 'LP_OFFERS', eventName: info.eventName, data }, true);
  });

  // The action renderers (/tag/actions.js) load with the first engagement that has an
  // action; until they run, what they are handed waits in tag.acts (tag/src/actions.js).
  tag.acts = [];
  tag.act = (a) => tag.acts.push(a) < 2 && document.head.append(el('script', { src: base + '/tag/actions.js' }));
  const renderer = createRenderer(tag);
  const ready = (fn) =>
    document.readyState === 'loading' ? document.addEventListener('DOMContentLoaded', fn, { once: true }) : fn();

  // Asks the server which engagements this page view shows, and shows them.
  const decide = () => {
    if (!site || !started) return;
    const pageId = tag.pageId;
    const body = {
      visitorId: visit.visitorId,
      sessionId: visit.session(),
      pageId,
      url: tag.url,
      sections: tag.page.sections,
      sdes: tag.pageSdes,
    };
    // XMLHttpRequest rather than fetch: from the request to START it costs Chromium's
    // main thread 0.5-0.9 ms less (no promise chain, no response body stream).
    const x = new XMLHttpRequest();
    x.open('POST', api('/decision'));
    x.setRequestHeader('content-type', 'text/plain'); // no CORS preflight
    x.onload = () => {
      let answer;
      try {
        if (x.status < 200 || x.status > 299) throw new Error('decision answered ' + x.status);
        answer = JSON.parse(x.responseText);
      } catch (e) {
        return log('warn', 'no engagements: ' + e.message);
      }
      ready(() => {
        if (pageId !== tag.pageId) return; // the page changed while we waited
        for (const e of (answer && answer.engagements) || []) renderer.show(e);
      });
    };
    x.onerror = () => log('warn', 'no engagements: the server could not be reached');
    x.send(JSON.stringify(body));
  };

  const sdes = createSdes(tag);
  Object.assign(lpTag, {
    _engage: {
      base,
      get visit() {
        return visit;
      },
      tag,
      transport,
      flush: () => transport && transport.flush(),
    },
    events,
    sdes,
    // A new page view in a single-page app (docs/vocabulary.md, Attributes).
    newPage(url, options) {
      const o = options || {};
      const stub = o.taglets && o.taglets.rendererStub;
      renderer.clear(stub && typeof stub.divIdsToKeep === 'object' ? stub.divIdsToKeep : null);
      if (transport) transport.flush();
      const referrer = tag.url;
      tag.url = url || location.href;
      tag.pageId = uuid7();
      tag.pageSdes = [];
      if (o.section !== undefined) lpTag.section = o.section;
      tag.page = pageInfo(referrer);
      if (o.sdes) sdes.push(o.sdes);
      decide();
    },
  });

  // What the page did before the tag arrived: binds first (so that they hear the rest),
  // then the SDE pushes, then the triggers. LivePerson's own snippet defers the same
  // calls as functions in _defB (binds), _defT (triggers) and _defL.
  const run = (fn) => {
    try {
      fn();
    } catch (e) {
      log('error', 'a queued call threw', e);
    }
  };
  for (const [method, args] of queued) if (method !== 'trigger' && events[method]) run(() => events[method](...args));
  (lpTag._defB || []).forEach(run);
  if (preSdes.length) sdes.push(preSdes);
  for (const [method, args] of queued) if (method === 'trigger') run(() => events.trigger(...args));
  (lpTag._defT || []).forEach(run);
  for (const k of ['_q', '_defB', '_defT']) delete lpTag[k];

  // Monitoring, once started and allowed: the visit's ids are read and stored, what was
  // held goes to the outbox, and the server is asked what to show.
  let wanted = false; // lpTag.start() was called (or autoStart)
  let listening = false;
  const monitor = () => {
    if (started || !wanted || consent === 'pending' || consent === 'withdrawn') return;
    started = true;
    visit = createVisit();
    if (transport) {
      for (const args of held.splice(0)) toOutbox(args);
      transport.adopt();
      if (!listening) {
        listening = true;
        const hidden = () => started && transport.hide();
        window.addEventListener('pagehide', hidden);
        document.addEventListener('visibilitychange', () =>
          document.visibilityState === 'hidden' ? hidden() : started && transport.persist()
        );
        window.addEventListener('online', () => started && transport.flush());
      }
    }
    events.trigger('lp_SMT', 'MONITORING_STATE', { active: !!site });
    decide();
  };
  // Starts the tag: monitoring begins (when consent allows), then the _defL functions
  // (LivePerson's "once loaded") run. LivePerson's snippet sets autoStart back to true
  // when lpTag.start() is called before the tag arrived.
  const start = () => {
    if (wanted) return;
    wanted = true;
    monitor();
    const loadedFns = lpTag._defL || [];
    delete lpTag._defL;
    loadedFns.forEach(run);
  };
  lpTag.start = start;

  // Withdrawn consent: the engagements on screen go, nothing held or queued is kept, the
  // ids and outboxes stored on this site are removed, and nothing more is stored or sent.
  const withdraw = () => {
    const was = started;
    consent = 'withdrawn';
    started = false;
    visit = null;
    held.length = 0;
    renderer.clear(null);
    if (transport) transport.clear();
    forgetVisit();
    if (was) events.trigger('lp_SMT', 'MONITORING_STATE', { active: false });
  };
  lpTag.consent = {
    // Tracking may start (or start again, as a new visitor after a withdrawal).
    grant() {
      consent = 'granted';
      monitor();
    },
    withdraw,
    // 'none' (no consent gate), 'pending', 'granted' or 'withdrawn'
    status: () => consent,
  };
  if (consent === 'withdrawn') withdraw();
  // Deferring after load works as before it: 0 binds and 1 triggers run now, anything
  // else once the tag has started.
  lpTag.defer = (fn, kind) => {
    if (typeof fn !== 'function') return;
    if (kind === 0 || kind === 1 || wanted) run(fn);
    else (lpTag._defL = lpTag._defL || []).push(fn);
  };
  if (lpTag.autoStart !== false) start();
}
