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
