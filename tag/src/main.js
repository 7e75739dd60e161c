// Installs window.lpTag: takes over what the embed snippet queued (bind/trigger calls,
// SDE pushes, hooks), starts the visit, asks the server what to show, and sends what
// happens on the page.

const lpTag = (window.lpTag = window.lpTag || {});
if (!lpTag._engage) {
  const script =
    document.currentScript || [].find.call(document.scripts || [], (s) => /\/tag\/tag(\.min)?\.js/.test(s.src));
  const src = script && script.src ? new URL(script.src, location.href) : null;
  const base = src ? src.origin : location.origin;
  const site = (src && src.searchParams.get('site')) || lpTag.site;
  if (!site) log('error', 'no account: load the tag as /tag/tag.js?site=<accountId> or set lpTag.site; nothing will be sent');
  lpTag.site = site || '';

  const queued = lpTag._q || []; // the snippet's [method, arguments] pairs
  const preSdes = Array.isArray(lpTag.sdes) ? lpTag.sdes : [];
  lpTag.hooks = lpTag.hooks || [];

  const events = createEvents(lpTag.eventBufferLimit);
  const visit = createVisit();
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

  const api = (path) => base + '/api/account/' + encodeURIComponent(site) + path;
  const transport = site ? createTransport(api('/events'), site, tag.pageId) : null;
  // Queues an item for the server; false when it can never be sent (too large). `later`:
  // the outbox takes it when the page is idle (see createTransport).
  tag.enqueue = (collection, item, later) => {
    const s = visit.session();
    return transport ? transport.add(collection, { v: visit.visitorId, s, p: tag.pageId }, tag.page, item, later) : true;
  };
  tag.send = (ids, cb) => (transport ? transport.send(ids, cb) : cb && cb(new Error('no account')));

  // Only LP_OFFERS events go to the server; the bus carries everything else. Their id and
  // time are taken now; writing them to the outbox waits until the page is idle, so that
  // it does not delay the engagement they are about (0.5 ms of Chromium's main thread
  // before the first one is painted).
  events.bind('LP_OFFERS', '*', (data, info) => {
    if (info.appName === 'LP_OFFERS') tag.enqueue('events', { id: uuid7(), time: now(), appName: 'LP_OFFERS', eventName: info.eventName, data }, true);
  });

  const renderer = createRenderer(tag);
  const ready = (fn) =>
    document.readyState === 'loading' ? document.addEventListener('DOMContentLoaded', fn, { once: true }) : fn();

  // Asks the server which engagements this page view shows, and shows them.
  const decide = () => {
    if (!site) return;
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
    _engage: { base, visit, tag, transport, flush: () => transport && transport.flush() },
    events,
    sdes,
    // A new page view in a single-page app (docs/vocabulary.md, Attributes).
    newPage(url, options) {
      const o = options || {};
      renderer.clear();
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
      log('error', 'a call queued before the tag loaded threw', e);
    }
  };
  for (const [method, args] of queued) if (method !== 'trigger' && events[method]) run(() => events[method](...args));
  (lpTag._defB || []).forEach(run);
  if (preSdes.length) sdes.push(preSdes);
  for (const [method, args] of queued) if (method === 'trigger') run(() => events.trigger(...args));
  (lpTag._defT || []).concat(lpTag._defL || []).forEach(run);
  for (const k of ['_q', '_defB', '_defT', '_defL']) delete lpTag[k];

  if (transport) {
    transport.adopt();
    const hidden = () => transport.hide();
    window.addEventListener('pagehide', hidden);
    document.addEventListener('visibilitychange', () =>
      document.visibilityState === 'hidden' ? hidden() : transport.persist()
    );
    window.addEventListener('online', () => transport.flush());
  }
  events.trigger('lp_SMT', 'MONITORING_STATE', { active: !!site });
  decide();
}
