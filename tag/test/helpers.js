// A small fake browser for unit tests: the tag runs inside node:vm with a window, a
// document (elements, shadow roots, cookies), localStorage, fetch, XMLHttpRequest, sendBeacon, timers on a
// controlled clock, and Mutation/IntersectionObserver. The fake server behind fetch keeps
// items by client id, as the real one does, so tests can count what was stored.
// The real browser and the real server are exercised by tag/browser/.

'use strict';

const vm = require('node:vm');
const fs = require('node:fs');
const path = require('node:path');
const { webcrypto } = require('node:crypto');

const TAG_DIR = path.join(__dirname, '..');
const SOURCE = {
  source: fs.readFileSync(path.join(TAG_DIR, 'tag.js'), 'utf8'),
  min: fs.readFileSync(path.join(TAG_DIR, 'dist', 'tag.min.js'), 'utf8'),
  actions: fs.readFileSync(path.join(TAG_DIR, 'actions.js'), 'utf8'),
  actionsMin: fs.readFileSync(path.join(TAG_DIR, 'dist', 'actions.min.js'), 'utf8'),
};

// ---- a clock and timers the test moves by hand
class Clock {
  constructor(start) {
    this.t = start;
    this.timers = [];
    this.seq = 0;
  }
  setTimeout(fn, ms) {
    const id = ++this.seq;
    this.timers.push({ id, at: this.t + Math.max(0, ms || 0), fn });
    return id;
  }
  clearTimeout(id) {
    this.timers = this.timers.filter((x) => x.id !== id);
  }
  // Runs every timer due within `ms`, in time order, letting promises settle in between.
  async advance(ms) {
    const end = this.t + ms;
    await settle();
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

// ---- storage shared across page loads of one "browser"
class FakeStorage {
  constructor() {
    this.map = new Map();
    this.broken = false;
  }
  check() {
    if (this.broken) throw new Error('SecurityError: storage is disabled');
  }
  get length() {
    this.check();
    return this.map.size;
  }
  key(i) {
    this.check();
    return [...this.map.keys()][i] ?? null;
  }
  getItem(k) {
    this.check();
    return this.map.has(k) ? this.map.get(k) : null;
  }
  setItem(k, v) {
    this.check();
    this.map.set(k, String(v));
  }
  removeItem(k) {
    this.check();
    this.map.delete(k);
  }
}

// ---- a minimal DOM
class Node {
  constructor(doc, name) {
    this.ownerDocument = doc;
    this.tagName = name.toUpperCase();
    this.localName = name;
    this.attributes = new Map();
    this.children = [];
    this.parentNode = null;
    this._text = '';
    this.listeners = {};
    this.shadowRoot = null;
    this.style = { cssText: '' };
  }
  setAttribute(k, v) {
    this.attributes.set(k, String(v));
  }
  getAttribute(k) {
    return this.attributes.has(k) ? this.attributes.get(k) : null;
  }
  hasAttribute(k) {
    return this.attributes.has(k);
  }
  get id() {
    return this.getAttribute('id') || '';
  }
  set textContent(v) {
    this._text = String(v);
    this.children = [];
  }
  get textContent() {
    return this._text + this.children.map((c) => c.textContent).join('');
  }
  append(...nodes) {
    for (const n of nodes) {
      if (n.parentNode) n.remove();
      n.parentNode = this;
      this.children.push(n);
    }
  }
  replaceWith(...nodes) {
    const p = this.parentNode;
    if (!p) return;
    const at = p.children.indexOf(this);
    for (const n of nodes) if (n.parentNode) n.remove();
    for (const n of nodes) n.parentNode = p;
    p.children.splice(at, 1, ...nodes);
    this.parentNode = null;
  }
  appendChild(n) {
    this.append(n);
    return n;
  }
  remove() {
    const p = this.parentNode;
    if (!p) return;
    p.children.splice(p.children.indexOf(this), 1);
    this.parentNode = null;
    this.ownerDocument._mutated();
  }
  get isConnected() {
    let n = this;
    while (n) {
      if (n === this.ownerDocument.documentElement) return true;
      n = n.host || n.parentNode;
    }
    return false;
  }
  attachShadow(init) {
    if (!/-/.test(this.localName) && !['div', 'span', 'section'].includes(this.localName)) {
      throw new Error('NotSupportedError: cannot attach a shadow root to <' + this.localName + '>');
    }
    this.shadowRoot = new Node(this.ownerDocument, '#shadow-root');
    this.shadowRoot.host = this;
    this.shadowRoot.mode = init.mode;
    return this.shadowRoot;
  }
  // Capture listeners run first at the target, as in browsers since 2021 (Chromium 89).
  addEventListener(type, fn, options) {
    const capture = options === true || !!(options && options.capture);
    const list = (this.listeners[type] = this.listeners[type] || []);
    if (capture) list.splice(list.filter((f) => f.capture).length, 0, Object.assign((e) => fn(e), { capture }));
    else list.push(fn);
  }
  dispatch(type, event) {
    const e = event || { type, target: this };
    let stopped = false;
    const stop = e.stopImmediatePropagation;
    e.stopImmediatePropagation = () => {
      stopped = true;
      if (stop) stop();
    };
    for (const fn of this.listeners[type] || []) {
      if (stopped) break;
      fn(e);
    }
  }
  click() {
    let stopped = false;
    this.dispatch('click', { type: 'click', target: this, stopImmediatePropagation: () => (stopped = true) });
    return !stopped;
  }
  // every element below, shadow roots included
  *walk() {
    for (const c of this.children) {
      yield c;
      yield* c.walk();
      if (c.shadowRoot) yield* c.shadowRoot.walk();
    }
  }
  querySelectorAll(selector) {
    const m = /^\[([\w-]+)\]$/.exec(selector);
    if (!m) throw new Error('the fake DOM only answers [attribute] selectors, not ' + selector);
    return [...this.walk()].filter((n) => n.hasAttribute(m[1]) && !isInShadow(n));
  }
  // [attribute=value] below this node, shadow roots included (what the action renderers ask)
  querySelector(selector) {
    const m = /^\[([\w-]+)=([\w-]+)\]$/.exec(selector);
    if (!m) return null;
    return [...this.walk()].find((n) => n.getAttribute(m[1]) === m[2]) || null;
  }
  getRootNode() {
    let n = this;
    while (n.parentNode) n = n.parentNode;
    return n;
  }
}
const isInShadow = (n) => {
  for (let p = n.parentNode; p; p = p.parentNode) if (p.host) return true;
  return false;
};

class FakeDocument {
  constructor(env, opts) {
    this.env = env;
    this.documentElement = new Node(this, 'html');
    this.head = new Node(this, 'head');
    this.body = new Node(this, 'body');
    this.documentElement.append(this.head, this.body);
    this.readyState = opts.readyState || 'complete';
    this.title = opts.title || 'Test page';
    this.referrer = opts.referrer || '';
    this.visibilityState = 'visible';
    this.listeners = {};
    this.currentScript = opts.scriptSrc ? { src: opts.scriptSrc } : null;
    this.scripts = [];
  }
  get cookie() {
    if (this.env.cookiesBroken) throw new Error('SecurityError: cookies are disabled');
    return [...this.env.cookies].map(([k, v]) => k + '=' + v).join('; ');
  }
  set cookie(text) {
    if (this.env.cookiesBroken) throw new Error('SecurityError: cookies are disabled');
    const [pair, ...attrs] = text.split(';');
    const eq = pair.indexOf('=');
    const maxAge = attrs.map((a) => a.trim()).find((a) => a.startsWith('max-age='));
    const k = pair.slice(0, eq).trim();
    if (maxAge && +maxAge.slice(8) <= 0) this.env.cookies.delete(k);
    else this.env.cookies.set(k, pair.slice(eq + 1));
  }
  createElement(name) {
    return new Node(this, name);
  }
  getElementById(id) {
    return [...this.documentElement.walk()].find((n) => n.id === id && !isInShadow(n)) || null;
  }
  querySelectorAll(selector) {
    return this.documentElement.querySelectorAll(selector);
  }
  addEventListener(type, fn) {
    (this.listeners[type] = this.listeners[type] || []).push(fn);
  }
  dispatch(type) {
    for (const fn of this.listeners[type] || []) fn({ type });
  }
  _mutated() {
    for (const o of this.env.mutationObservers) {
      if (o.active) queueMicrotask(() => o.active && o.fn([]));
    }
  }
}

// ---- the fake server behind fetch and sendBeacon
class FakeServer {
  constructor() {
    this.requests = []; // every request: {url, init, body}
    this.stored = new Map(); // client id -> {kind, item, envelope}
    this.mode = 'up'; // 'up' | 'down' (network error) | a status number
    this.retryAfter = null; // the Retry-After header of a status answer, when set
    this.decision = { engagements: [] };
    this.decisionStatus = 200;
    this.beacons = [];
  }
  receive(url, text) {
    const body = JSON.parse(text);
    let accepted = 0;
    let duplicates = 0;
    for (const kind of ['events', 'sdes']) {
      for (const item of body[kind] || []) {
        if (this.stored.has(item.id)) duplicates++;
        else {
          accepted++;
          this.stored.set(item.id, { kind, item, envelope: body });
        }
      }
    }
    return { accepted, duplicates, rejected: [] };
  }
  async fetch(url, init) {
    const request = { url: String(url), init, body: init && init.body };
    this.requests.push(request);
    if (this.mode === 'down') throw new TypeError('Failed to fetch');
    if (/\/decision$/.test(request.url)) {
      return response(this.decisionStatus, this.decision);
    }
    if (typeof this.mode === 'number') {
      const headers = this.retryAfter == null ? {} : { 'retry-after': String(this.retryAfter) };
      return response(this.mode, { code: 'test', message: 'status ' + this.mode }, headers);
    }
    return response(200, this.receive(request.url, request.body));
  }
  sendBeacon(url, body) {
    this.beacons.push({ url: String(url), body });
    if (this.beaconRefuses) return false;
    if (this.mode === 'up') this.receive(url, body);
    return true;
  }
  eventRequests() {
    return this.requests.filter((r) => /\/events$/.test(r.url));
  }
  items(kind) {
    return [...this.stored.values()].filter((x) => !kind || x.kind === kind);
  }
}
const response = (status, body, headers = {}) => ({
  ok: status >= 200 && status < 300,
  status,
  headers: { get: (k) => (k.toLowerCase() in headers ? headers[k.toLowerCase()] : null) },
  json: async () => JSON.parse(JSON.stringify(body)),
});

// ---- one browser (storage, cookies, server, clock) that loads pages
class Browser {
  constructor() {
    this.clock = new Clock(Date.UTC(2026, 0, 15, 12, 0, 0));
    this.storage = new FakeStorage();
    this.cookies = new Map();
    this.server = new FakeServer();
    this.mutationObservers = [];
    this.intersectionObservers = [];
    this.logs = [];
    this.opened = []; // window.open calls: {url, target, features}
  }

  // Loads a page. `before(window)` runs first, like the embed snippet and inline scripts.
  load(opts = {}) {
    const o = Object.assign({ scriptSrc: 'https://engage.example:8443/tag/tag.js?site=acct1', url: 'https://shop.example/cart' }, opts);
    const doc = new FakeDocument(this, o);
    const clock = this.clock;
    const browser = this;
    const env = this;
    const url = new URL(o.url);
    const win = {
      document: doc,
      location: { href: o.url, origin: url.origin },
      localStorage: undefined,
      navigator: { sendBeacon: (u, b) => browser.server.sendBeacon(u, b) },
      fetch: (u, init) => browser.server.fetch(u, init),
      // XMLHttpRequest on top of the fake server's fetch (so a test replacing
      // server.fetch sees these requests too); asynchronous like the real one.
      XMLHttpRequest: class {
        constructor() {
          this.headers = {};
          this.status = 0;
          this.responseText = '';
        }
        open(method, url) {
          this.method = method;
          this.url = String(url);
        }
        setRequestHeader(k, v) {
          this.headers[k.toLowerCase()] = v;
        }
        send(body) {
          const init = { method: this.method, body, headers: this.headers };
          let answer;
          try {
            answer = Promise.resolve(browser.server.fetch(this.url, init)); // sent now, answered later
          } catch (e) {
            answer = Promise.reject(e);
          }
          answer.then(
            async (r) => {
              this.status = r.status;
              this.responseText = JSON.stringify(await r.json());
              if (this.onload) this.onload();
            },
            () => this.onerror && this.onerror()
          );
        }
      },
      open: (url, target, features) => {
        browser.opened.push({ url: String(url), target, features });
        return null;
      },
      crypto: webcrypto,
      TextEncoder,
      URL,
      Promise,
      setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
      clearTimeout: (id) => clock.clearTimeout(id),
      queueMicrotask,
      console: {
        log: (...a) => browser.logs.push(['log', ...a]),
        info: (...a) => browser.logs.push(['info', ...a]),
        warn: (...a) => browser.logs.push(['warn', ...a]),
        error: (...a) => browser.logs.push(['error', ...a]),
        debug: (...a) => browser.logs.push(['debug', ...a]),
      },
      listeners: {},
      addEventListener(type, fn) {
        (this.listeners[type] = this.listeners[type] || []).push(fn);
      },
      dispatch(type, event) {
        for (const fn of this.listeners[type] || []) fn(event || { type });
      },
      MutationObserver: class {
        constructor(fn) {
          this.fn = fn;
          this.active = false;
          env.mutationObservers.push(this);
        }
        observe() {
          this.active = true;
        }
        disconnect() {
          this.active = false;
        }
      },
      IntersectionObserver: class {
        constructor(fn, options) {
          this.fn = fn;
          this.options = options;
          this.targets = [];
          env.intersectionObservers.push(this);
        }
        observe(t) {
          this.targets.push(t);
        }
        disconnect() {
          this.targets = [];
        }
      },
    };
    if (!o.noStorage) {
      Object.defineProperty(win, 'localStorage', { get: () => {
        if (browser.storageBroken) throw new Error('SecurityError: access denied');
        return browser.storage;
      } });
    }
    win.window = win;
    if (o.noBeacon) delete win.navigator.sendBeacon;
    const context = vm.createContext(win);
    // Date inside the page follows the test's clock.
    vm.runInContext('Date.now = () => __clock.t', Object.assign(context, { __clock: clock }));
    if (o.before) o.before(context);
    vm.runInContext(SOURCE[o.build || 'source'], context, { filename: 'tag.js' });
    this.page = context;
    return context;
  }

  // Reports every observed engagement as on screen.
  showAll() {
    for (const o of this.intersectionObservers) {
      if (o.targets.length) o.fn(o.targets.map((target) => ({ target, isIntersecting: true, intersectionRatio: 1 })));
    }
  }

  errors() {
    return this.logs.filter((l) => l[0] === 'error');
  }
}

// Values made inside the page's realm have its prototypes: compare them as JSON.
const plain = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

// The snippet's stubs, as README.md documents them.
const SNIPPET = fs.readFileSync(path.join(TAG_DIR, 'snippet.js'), 'utf8');
const runSnippet = (win, site = 'acct1') => {
  vm.runInContext(SNIPPET.replace(/ACCOUNT_ID/g, site).replace(/https:\/\/ENGAGE_HOST/g, 'https://engage.example:8443'), win);
};

const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

module.exports = { Browser, plain, settle, runSnippet, UUID7, SOURCE };
