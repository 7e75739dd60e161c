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
