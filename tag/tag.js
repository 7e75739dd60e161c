//# allFunctionsCalledOnLoad
/*! Engage tag, Apache-2.0, built from tag/src. */
(() => {
'use strict';
// ---- src/util.js
// Small helpers shared by every part of the tag: logging, copying, ids, storage.

const log = (level, message, detail) => {
  try {
    console[level]('[engage] ' + message, detail === undefined ? '' : detail);
  } catch (e) {
    // a page without a console: nothing to tell
  }
};

const isPlainObject = (v) => Object.prototype.toString.call(v) === '[object Object]';

// Deep copy of plain objects and arrays; anything else (functions, dates, DOM nodes) is
// kept by reference. Realm-independent, so it copies objects made in another frame.
const copy = (v) => {
  if (Array.isArray(v)) return v.map(copy);
  if (!v || !isPlainObject(v)) return v;
  const out = {};
  for (const k in v) if (Object.prototype.hasOwnProperty.call(v, k)) out[k] = copy(v[k]);
  return out;
};

const now = () => Date.now();
const encoder = new TextEncoder();
const byteLength = (s) => encoder.encode(s).length;

// UUIDv7: 48-bit millisecond time, then a 12-bit counter that keeps ids made within one
// millisecond in order, then 62 random bits. Time-ordered ids keep the server's unique
// index append-friendly (docs/architecture.md, Storage).
let lastMs = 0;
let counter = 0;
const hex = (n, width) => n.toString(16).padStart(width, '0');
const uuid7 = () => {
  const r = crypto.getRandomValues(new Uint8Array(10));
  let ms = now();
  if (ms > lastMs) {
    lastMs = ms;
    counter = ((r[0] << 8) | r[1]) & 0x7ff; // room for 2048 more ids in this millisecond
  } else if (++counter > 0xfff) {
    lastMs++;
    counter = 0;
  }
  ms = lastMs;
  let tail = hex((r[2] & 0x3f) | 0x80, 2);
  for (let i = 3; i < 10; i++) tail += hex(r[i], 2);
  const t = hex(ms, 12);
  return t.slice(0, 8) + '-' + t.slice(8) + '-' + hex(0x7000 | counter, 4) + '-' + tail.slice(0, 4) + '-' + tail.slice(4);
};

// First-party storage: localStorage when the page may use it, a cookie for the ids when
// it may not (sandboxed frames, some private modes), memory as the last resort.
// No probe write: every access below is guarded, and a failing one falls back.
const store = (() => {
  try {
    return window.localStorage || null;
  } catch (e) {
    return null;
  }
})();
const lsGet = (k) => {
  try {
    return store && store.getItem(k);
  } catch (e) {
    return null;
  }
};
const lsSet = (k, v) => {
  try {
    if (store) v == null ? store.removeItem(k) : store.setItem(k, v);
    return !!store;
  } catch (e) {
    return false; // quota: the caller keeps the value in memory
  }
};
const lsKeys = () => {
  const keys = [];
  try {
    for (let i = 0; store && i < store.length; i++) keys.push(store.key(i));
  } catch (e) {
    // unreadable storage: no keys
  }
  return keys;
};
// document.cookie is read at most once per task: each read is a round trip to the browser.
let cookieJar = null;
const cookieGet = (k) => {
  try {
    if (cookieJar == null) {
      cookieJar = document.cookie;
      queueMicrotask(() => (cookieJar = null));
    }
    const m = cookieJar.match(new RegExp('(?:^|; )' + k + '=([^;]*)'));
    return m ? decodeURIComponent(m[1]) : null;
  } catch (e) {
    return null;
  }
};
const cookieSet = (k, v, maxAgeSeconds) => {
  cookieJar = null;
  try {
    document.cookie = k + '=' + encodeURIComponent(v) + '; max-age=' + maxAgeSeconds + '; path=/; SameSite=Lax';
  } catch (e) {
    // cookies disabled: localStorage or memory only
  }
};

// ---- src/events.js
// lpTag.events (docs/vocabulary.md, Event bus): bind/unbind/trigger/hasFired/once and the
// aliases register/publish/unregister. Names match case-sensitively; "*" matches any app
// or event.

const createEvents = (bufferLimit) => {
  let listeners = []; // {id, app, ev, fn, ctx, async, once, dead}, in bind order
  let seq = 0;
  const fired = []; // the history, a ring of `bufferLimit` entries when that is > 0
  let ring = 0; // the oldest entry once the ring is full
  const limit = typeof bufferLimit === 'number' && bufferLimit >= 0 ? bufferLimit : -1;

  const bind = (app, eventName, func) => {
    const o = typeof app === 'string' ? { appName: app, eventName, func } : app;
    if (!o || typeof o !== 'object' || !o.eventName || typeof o.eventName !== 'string') {
      log('error', 'bind needs an event name', o);
      return null;
    }
    if (Array.isArray(o.func)) return o.func.map((f) => bind(Object.assign({}, o, { func: f })));
    if (typeof o.func !== 'function') {
      log('error', 'bind needs a function for ' + o.eventName);
      return null;
    }
    const l = {
      id: 'evId_' + ++seq,
      app: o.appName || '*',
      ev: o.eventName,
      fn: o.func,
      ctx: o.context === undefined ? null : o.context,
      async: !!(o.async || o.aSync),
      once: !!o.triggerOnce,
    };
    listeners.push(l);
    return l.id;
  };

  const once = (app, eventName, func) => {
    const o = typeof app === 'string' ? { appName: app, eventName, func } : Object.assign({}, app);
    o.triggerOnce = true;
    return bind(o);
  };

  // unbind(id | [ids]) or unbind({appName, eventName, func, context}): every listener
  // matching all the given fields goes; without `func`, every listener of that app and event.
  const unbind = (q) => {
    if (Array.isArray(q)) return q.map(unbind).some(Boolean);
    let gone;
    if (typeof q === 'string') {
      gone = (l) => l.id === q;
    } else if (q && typeof q === 'object' && (q.appName || q.eventName || q.func || q.context)) {
      gone = (l) =>
        (!q.eventName || l.ev === q.eventName) &&
        (!q.appName || l.app === q.appName) &&
        (!q.func || l.fn === q.func) &&
        (!q.context || l.ctx === q.context);
    } else {
      log('error', 'unbind needs a listener id or {appName, eventName}', q);
      return false;
    }
    const before = listeners.length;
    listeners = listeners.filter((l) => !(gone(l) && (l.dead = true)));
    return listeners.length < before;
  };

  const remember = (entry) => {
    if (limit === 0) return;
    if (limit < 0 || fired.length < limit) {
      fired.push(entry);
    } else {
      fired[ring] = entry;
      ring = (ring + 1) % limit;
    }
  };

  // trigger(appName, eventName, data) or trigger({appName, eventName, data, passDataByRef,
  // aSync}) → whether any listener existed; null for bad arguments.
  const trigger = (app, eventName, data) => {
    const o = typeof app === 'string' ? { appName: app, eventName, data } : app;
    if (!o || typeof o !== 'object' || !o.eventName || typeof o.eventName !== 'string') {
      log('error', 'trigger needs an event name', o);
      return null;
    }
    const { appName, eventName: ev, data: d, passDataByRef: byRef } = o;
    if (!(d && d.doNotStore)) remember({ appName, eventName: ev, data: byRef ? d : copy(d) });
    const hits = listeners.filter(
      (l) => (l.ev === ev || l.ev === '*') && (!appName || appName === '*' || l.app === '*' || l.app === appName)
    );
    const later = o.aSync || (d && typeof d === 'object' && d.aSync);
    for (const l of hits) {
      if (l.dead) continue; // unbound by an earlier callback of this same trigger
      if (l.once) unbind(l.id);
      const arg = byRef ? d : copy(d);
      const run = () => {
        try {
          l.fn.call(l.ctx, arg, { eventName: ev, appName });
        } catch (e) {
          log('error', 'a listener of ' + (appName || '*') + '/' + ev + ' (' + l.id + ') threw', e);
        }
      };
      l.async || later ? setTimeout(run, 0) : run();
    }
    return hits.length > 0;
  };

  // hasFired(appName, eventName) or hasFired({appName, eventName}) → the stored events,
  // oldest first; "*" or a missing name matches any.
  const hasFired = (app, eventName) => {
    if (app && typeof app === 'object') ({ appName: app, eventName } = app);
    const all = fired.slice(ring).concat(fired.slice(0, ring));
    return all.filter(
      (f) =>
        (!eventName || eventName === '*' || f.eventName === eventName) &&
        (!app || app === '*' || !f.appName || f.appName === '*' || f.appName === app)
    );
  };

  return { bind, unbind, trigger, hasFired, once, register: bind, publish: trigger, unregister: unbind };
};

// ---- src/ids.js
// The visit: a visitor id that survives reloads (two years), a session id that ends after
// 30 minutes without activity, and a page id per page view (a load, or lpTag.newPage).

const VISITOR_KEY = '_engage_vid';
const SESSION_KEY = '_engage_sid';
const SESSION_IDLE_MS = 30 * 60 * 1000;

// document.cookie is a synchronous round trip to the browser process on every access, so
// the steady state touches localStorage only: the visitor cookie is written when the id is
// new to localStorage (first visit, or storage cleared), and read only when
// localStorage has nothing; the session lives in localStorage, or in a cookie without it.
const readId = (key) => lsGet(key) || cookieGet(key);

const createVisit = () => {
  const stored = lsGet(VISITOR_KEY);
  let visitorId = stored || cookieGet(VISITOR_KEY);
  if (!visitorId || visitorId.length > 64) {
    visitorId = uuid7();
  }
  if (stored !== visitorId) {
    lsSet(VISITOR_KEY, visitorId);
    cookieSet(VISITOR_KEY, visitorId, 63072000);
  }

  let sessionId = null;
  let lastActive = 0;
  let written = 0;
  const last = readId(SESSION_KEY); // "<id>.<last activity ms>"
  if (last) {
    const dot = last.lastIndexOf('.');
    const t = +last.slice(dot + 1);
    if (dot > 0 && now() - t < SESSION_IDLE_MS) {
      sessionId = last.slice(0, dot);
      lastActive = t;
    }
  }

  // The current session, renewed by this activity; a new one after 30 minutes idle.
  const session = () => {
    const t = now();
    if (!sessionId || t - lastActive >= SESSION_IDLE_MS) {
      sessionId = uuid7();
      written = 0;
    }
    lastActive = t;
    if (t - written > 5000) {
      written = t;
      const value = sessionId + '.' + t;
      if (!lsSet(SESSION_KEY, value)) cookieSet(SESSION_KEY, value, SESSION_IDLE_MS / 1000);
    }
    return sessionId;
  };
  session();
  return { visitorId, session };
};

// Withdrawn consent: every identifier and outbox the tag keeps on this site goes, from
// localStorage (every `_engage_` key) and from the cookies.
const forgetVisit = () => {
  for (const k of lsKeys()) if (k && k.indexOf('_engage_') === 0) lsSet(k, null);
  for (const k of [VISITOR_KEY, SESSION_KEY]) cookieSet(k, '', 0);
};

// ---- src/hooks.js
// lpTag.hooks: `lpTag.hooks.push({name, callback(options) → options})`. Hooks of a name run
// in push order, each getting what the previous returned; a non-object return, or a hook
// that throws, is ignored (the previous options go on).

const runHooks = (name, options) => {
  const hooks = window.lpTag.hooks;
  if (!hooks || typeof hooks.length !== 'number') return options;
  for (let i = 0; i < hooks.length; i++) {
    const h = hooks[i];
    if (!h || h.name !== name || typeof h.callback !== 'function') continue;
    try {
      const out = h.callback(options);
      if (out && typeof out === 'object') options = out;
    } catch (e) {
      log('error', 'the ' + name + ' hook threw', e);
    }
  }
  return options;
};

// ---- src/transport.js
// Transport: every LP_OFFERS event and SDE becomes an item with a client id, kept in an
// outbox until the server has acknowledged it. The server stores an id once, so sending an
// item again is always safe; losing one is not. Hence:
// - the outbox lives in localStorage under one key per page view (tabs never overwrite each
//   other's), and a page adopts the outboxes that closed or crashed pages left behind;
// - batches go out with fetch(keepalive) as text/plain (no CORS preflight), at most
//   MAX_ITEMS items and KEEPALIVE_BYTES bytes (the browser's keepalive budget; the server
//   allows 500 items and 1 MiB); a bigger single item goes alone without keepalive;
// - a network error, 408, 429 or 5xx keeps the batch and retries with exponential backoff,
//   and a 429 or 503 with Retry-After waits at least that long (at most MAX_RETRY_AFTER_MS);
// - on page hide the outbox goes by sendBeacon and stays stored until a later page (or
//   this one, if it comes back) has it acknowledged.

const OUTBOX_PREFIX = '_engage_q_';
const MAX_ITEMS = 100;
const KEEPALIVE_BYTES = 60000;
const MAX_BODY_BYTES = 1000000;
const MAX_OUTBOX = 2000;
const MAX_OUTBOX_BYTES = 1000000; // of the site's ~5 MB of localStorage
const STALE_OUTBOX_MS = 180000;
const FLUSH_DELAY_MS = 1000;
const MAX_RETRY_AFTER_MS = 600000;

// A response's Retry-After (seconds, or an HTTP date) in milliseconds from now, at most
// MAX_RETRY_AFTER_MS; 0 without one (or one that the page may not read: a cross-origin
// answer shows it only with Access-Control-Expose-Headers: Retry-After).
const retryAfter = (res) => {
  const h = res.headers && res.headers.get('retry-after');
  if (!h) return 0;
  const ms = isNaN(h) ? Date.parse(h) - now() : h * 1000;
  return ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : 0;
};

const tooLarge = (size, item) => log('error', 'an item of ' + size + ' bytes is over the server limit', item);
const callBack = (w, error) => {
  try {
    w.cb(error || null, error ? undefined : w.result);
  } catch (e) {
    log('error', 'an lpTag.sdes.send callback threw', e);
  }
};

const createTransport = (endpoint, site, pageKey) => {
  const key = OUTBOX_PREFIX + site + '_' + pageKey;
  let outbox = []; // {c: "events"|"sdes", v, s, p, i: item, n: bytes}
  let pages = {}; // pageId -> page info, for the envelope
  let sending = false;
  let timer = 0;
  let failures = 0;
  let itemCap = MAX_ITEMS; // halved by each 413, for the rest of this page view
  let waiters = []; // {ids: Set, cb, result}
  let notBefore = 0; // no request before this time (the server's Retry-After)

  let stored = false; // whether our key holds anything
  let dirty = false; // a write is due at the end of this task
  const persist = (orphan) => {
    if (!outbox.length) {
      if (stored) lsSet(key, null);
      return (stored = false);
    }
    stored = true;
    const used = {};
    for (const x of outbox) used[x.p] = pages[x.p];
    const box = { t: now(), o: !!orphan, q: outbox, pages: used };
    if (notBefore > box.t) box.r = notBefore;
    lsSet(key, JSON.stringify(box));
  };

  // Outboxes of other page views of this site whose page is gone (hidden for good, or
  // silent for three minutes): their items are ours to deliver now.
  const adopt = () => {
    for (const k of lsKeys()) {
      if (!k || k.indexOf(OUTBOX_PREFIX + site + '_') !== 0 || k === key) continue;
      try {
        const box = JSON.parse(lsGet(k));
        if (box.o || now() - box.t > STALE_OUTBOX_MS) {
          lsSet(k, null);
          // a Retry-After that page was waiting out holds here too
          if (box.r > notBefore) notBefore = Math.min(box.r, now() + MAX_RETRY_AFTER_MS);
          Object.assign(pages, box.pages);
          outbox = outbox.concat(box.q);
        }
      } catch (e) {
        lsSet(k, null);
      }
    }
    persist();
    if (outbox.length) schedule(0);
  };

  // Items handed over with `later`: LP_OFFERS events fired while the first engagement is
  // being shown. They join the outbox when the page is next idle (after that engagement
  // is painted), or before anything else reads or sends the outbox, in the order given.
  let pending = [];
  const drain = () => {
    const list = pending;
    pending = [];
    for (const args of list) put(...args);
  };
  const whenIdle =
    typeof requestIdleCallback === 'function'
      ? (fn) => requestIdleCallback(fn, { timeout: 1000 })
      : (fn) => setTimeout(fn, 0);

  // Queues one item; false when it is too large for the server to ever take. With
  // `later`, the checks and the outbox write wait for an idle moment and it answers true.
  const add = (collection, visit, page, item, later) => {
    if (later) {
      if (!pending.length) whenIdle(drain);
      pending.push([collection, visit, page, item]);
      return true;
    }
    drain();
    return put(collection, visit, page, item);
  };

  const put = (collection, visit, page, item) => {
    const json = JSON.stringify(item);
    const size = byteLength(json);
    if (size > MAX_BODY_BYTES - 1000) {
      tooLarge(size, item);
      return false;
    }
    pages[visit.p] = page;
    outbox.push({ c: collection, v: visit.v, s: visit.s, p: visit.p, i: JSON.parse(json), n: size });
    let bytes = 0;
    for (const x of outbox) bytes += x.n;
    let drop = 0;
    while (outbox.length - drop > 1 && (outbox.length - drop > MAX_OUTBOX || bytes > MAX_OUTBOX_BYTES)) bytes -= outbox[drop++].n;
    if (drop) {
      outbox.splice(0, drop);
      log('warn', 'outbox full: dropped the ' + drop + ' oldest items');
    }
    // One write for a burst of items (START, OFFER_DISPLAY, ...), after the current task.
    if (!dirty) {
      dirty = true;
      queueMicrotask(() => {
        dirty = false;
        persist();
      });
    }
    schedule(FLUSH_DELAY_MS);
    return true;
  };

  const schedule = (ms) => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = 0;
      flush();
    }, ms);
  };

  // The next batch: items of one page view from the front of the outbox, within the limits.
  const nextBatch = (list, maxBytes) => {
    const first = list[0];
    const batch = [];
    let bytes = 300 + byteLength(JSON.stringify(pages[first.p] || null));
    for (const x of list) {
      if (x.v !== first.v || x.s !== first.s || x.p !== first.p) continue;
      if (batch.length && (batch.length >= itemCap || bytes + x.n + 1 > maxBytes)) break;
      batch.push(x);
      bytes += x.n + 1;
    }
    return batch;
  };

  const body = (batch) => {
    const b = { visitorId: batch[0].v, sessionId: batch[0].s, pageId: batch[0].p };
    if (pages[batch[0].p]) b.page = pages[batch[0].p];
    for (const x of batch) (b[x.c] = b[x.c] || []).push(x.i);
    return JSON.stringify(b);
  };

  const settle = (batch, error, answer) => {
    const ids = new Set(batch.map((x) => x.i.id));
    if (!error) {
      outbox = outbox.filter((x) => !batch.includes(x));
      persist();
    }
    waiters = waiters.filter((w) => {
      let mine = false;
      for (const id of ids) mine = w.ids.delete(id) || mine;
      if (!mine) return true;
      if (answer) {
        w.result.accepted += answer.accepted || 0;
        w.result.duplicates += answer.duplicates || 0;
      }
      if (error || !w.ids.size) return callBack(w, error);
      return true;
    });
  };

  const flush = async () => {
    drain();
    if (sending || !outbox.length) return;
    clearTimeout(timer);
    timer = 0;
    if (now() < notBefore) return schedule(notBefore - now());
    const batch = nextBatch(outbox, KEEPALIVE_BYTES);
    const text = body(batch);
    const size = byteLength(text);
    if (size > MAX_BODY_BYTES) {
      tooLarge(size, batch[0].i);
      settle(batch, new Error('item too large'));
      outbox = outbox.filter((x) => x !== batch[0]);
      persist();
      return flush();
    }
    sending = true;
    let retry = false;
    try {
      const res = await fetch(endpoint, {
        method: 'POST',
        keepalive: size <= KEEPALIVE_BYTES,
        body: text,
        headers: { 'content-type': 'text/plain' },
      });
      const answer = await res.json().catch(() => null);
      if (res.ok) {
        failures = 0;
        for (const r of (answer && answer.rejected) || []) {
          log('warn', 'the server rejected ' + r.kind + ' ' + r.index + ' (quarantined)', r.errors);
        }
        settle(batch, null, answer);
      } else if (res.status === 413 && batch.length > 1) {
        itemCap = Math.max(1, batch.length >> 1);
      } else if (res.status === 408 || res.status === 429 || res.status >= 500) {
        retry = true;
        const wait = res.status === 429 || res.status === 503 ? retryAfter(res) : 0;
        if (wait) notBefore = Math.max(notBefore, now() + wait);
      } else {
        // The server will never take this batch (unknown account, origin not allowed, an
        // envelope it refuses); a 400 body is in its quarantine. Keeping it would block the rest.
        log('error', 'the server refused a batch (' + res.status + ')', answer);
        const error = new Error('refused: ' + res.status);
        settle(batch, error);
        outbox = outbox.filter((x) => !batch.includes(x));
        persist();
      }
    } catch (e) {
      retry = true;
    }
    sending = false;
    if (retry) {
      failures++;
      settle(batch, new Error('the server could not be reached; the items are kept and retried'));
      persist();
      const backoff = Math.min(60000, 1000 * 2 ** (failures - 1)) * (0.5 + Math.random() / 2);
      schedule(Math.max(backoff, notBefore - now()));
    } else if (outbox.length) {
      flush();
    }
  };

  // Sends everything now; `cb(error, {accepted, duplicates})` once these items are stored.
  const send = (itemIds, cb) => {
    if (cb) waiters.push({ ids: new Set(itemIds), cb, result: { accepted: 0, duplicates: 0 } });
    flush();
  };

  // The page is going away (or hidden): hand the outbox to sendBeacon, and leave it stored
  // for a later page to have acknowledged, in case the beacon is lost.
  const hide = () => {
    drain();
    persist(true);
    let rest = outbox;
    // while the server asks to wait, the stored outbox waits too (with its Retry-After)
    while (rest.length && navigator.sendBeacon && now() >= notBefore) {
      const batch = nextBatch(rest, KEEPALIVE_BYTES);
      if (!navigator.sendBeacon(endpoint, body(batch))) break; // over the beacon budget
      rest = rest.filter((x) => !batch.includes(x));
    }
    clearTimeout(timer);
    timer = 0;
    if (outbox.length) schedule(15000); // if this page comes back, it confirms them then
  };

  // Withdrawn consent: nothing queued is kept or sent, and the stored outbox goes; the
  // lpTag.sdes.send callbacks still waiting get an error. A request already on its way
  // cannot be called back: the server stores what it carried.
  const clear = () => {
    pending = [];
    outbox = [];
    for (const w of waiters.splice(0)) callBack(w, new Error('consent was withdrawn'));
    clearTimeout(timer);
    timer = 0;
    persist();
    lsSet(key, null);
  };

  return {
    add,
    flush,
    clear,
    send,
    hide,
    adopt,
    persist: () => (drain(), persist()),
    size: () => (drain(), outbox.length),
  };
};

// ---- src/sdes.js
// lpTag.sdes (docs/vocabulary.md, Attributes): push (queued until the tag next talks to
// the server), send (at once, with a callback), get. Every SDE accepted fires
// lp_sdes/VAR_ADDED with it.

const createSdes = (tag) => {
  const accept = (input) => {
    const given = Array.isArray(input) ? input : [input];
    const options = runHooks('BEFORE_SUBMIT_SDE', { data: { sdes: given } });
    const list = options.data && Array.isArray(options.data.sdes) ? options.data.sdes : given;
    const ids = [];
    for (const sde of list) {
      if (!sde || typeof sde !== 'object' || typeof sde.type !== 'string' || !sde.type) {
        log('error', 'an SDE without a `type` is ignored', sde);
        continue;
      }
      const id = uuid7();
      tag.pageSdes.push(copy(sde));
      if (tag.enqueue('sdes', { id, time: now(), sde: copy(sde) })) ids.push(id);
      tag.events.trigger('lp_sdes', 'VAR_ADDED', sde);
    }
    return ids;
  };
  return {
    // push(sde), push([sde, ...]) or push(sde, sde, ...) like an array's push
    push(...args) {
      accept(args.length === 1 ? args[0] : args);
      return tag.pageSdes.length;
    },
    // send(sde | [sde], callback(error, {accepted, duplicates})): sends now
    send(input, callback) {
      const ids = accept(input);
      const cb = typeof callback === 'function' ? callback : null;
      if (!ids.length) {
        if (cb) setTimeout(() => cb(null, { accepted: 0, duplicates: 0 }), 0);
        return;
      }
      tag.send(ids, cb);
    },
    // The SDEs this page holds: all (an array, maybe empty), or those of one type, as
    // LivePerson documents it (LE-Tag/sdes.md): undefined when there are none of it.
    // Copies, unlike LivePerson's, so that changing them cannot change what is sent.
    get(type) {
      const found = tag.pageSdes.filter((s) => !type || s.type === type);
      return type && !found.length ? undefined : copy(found);
    },
  };
};

// ---- src/render.js
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

// ---- src/main.js
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
})();
