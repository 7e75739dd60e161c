// The browser tests' world: the real `engage` binary (target/release/engage) on a loopback
// port with a temporary data directory, a small node server for the test pages on another
// port (so the tag runs cross-origin, as on a customer's site), and Debian's Chromium
// driven by playwright-core. Nothing here fakes the server.

import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, mkdirSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';

const here = dirname(fileURLToPath(import.meta.url));
export const TAG_DIR = join(here, '..');
export const ROOT = join(TAG_DIR, '..');
export const ENGAGE = process.env.ENGAGE_BIN || join(ROOT, 'target', 'release', 'engage');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const OUTPUT = join(ROOT, 'target', 'test-output', 'tag');
export const SNIPPET = readFileSync(join(TAG_DIR, 'snippet.js'), 'utf8');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function requireTools() {
  if (!existsSync(ENGAGE)) throw new Error(`${ENGAGE} is missing: run \`cargo build --release\` first`);
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium)`);
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// One Engage server with its own data directory; stop() and start() again keep both.
export class Engage {
  constructor() {
    this.data = mkdtempSync(join(tmpdir(), 'engage-tag-test-'));
    this.port = 0;
    this.proc = null;
    this.log = '';
  }

  createAccount(name = 't') {
    const out = execFileSync(ENGAGE, ['account', 'create', '--name', name, '--data', this.data], { encoding: 'utf8' });
    const account = JSON.parse(out);
    this.account = account.accountId;
    this.apiKey = account.apiKey;
    return account;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    if (!this.port) this.port = await freePort();
    this.proc = spawn(ENGAGE, ['serve', '--listen', `127.0.0.1:${this.port}`, '--data', this.data], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk) => (this.log = (this.log + chunk).slice(-20000));
    this.proc.stdout.on('data', keep);
    this.proc.stderr.on('data', keep);
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.exited = exited;
    for (let i = 0; i < 200; i++) {
      try {
        const r = await fetch(this.url + '/healthz');
        if (r.ok) return;
      } catch (e) {
        // not listening yet
      }
      if (this.proc.exitCode !== null) break;
      await sleep(50);
    }
    throw new Error(`engage serve did not come up on ${this.url}:\n${this.log}`);
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    this.proc.kill('SIGTERM');
    await Promise.race([this.exited, sleep(10000)]);
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
    await this.exited;
  }

  // What the account has stored, as `engage export` prints it (one JSON object a line).
  export(kind) {
    const out = execFileSync(ENGAGE, ['export', '--account', this.account, '--kind', kind, '--data', this.data], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return out
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l));
  }

  // Polls the export until `ready(rows)` holds or the time runs out; returns the rows.
  async waitFor(kind, ready, ms = 15000) {
    const end = Date.now() + ms;
    let rows = [];
    while (Date.now() < end) {
      rows = this.export(kind);
      if (ready(rows)) return rows;
      await sleep(200);
    }
    return rows;
  }

  async cleanup() {
    await this.stop();
    rmSync(this.data, { recursive: true, force: true });
  }
}

// The test pages, on another origin than the Engage server. A page is HTML sent as the
// test asks for it: pages.set('/shop.html', html).
export class Pages {
  constructor() {
    this.pages = new Map();
    this.server = createServer((req, res) => {
      const path = new URL(req.url, 'http://x').pathname;
      const page = this.pages.get(path);
      if (page == null) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        return res.end('no such test page');
      }
      res.writeHead(200, Object.assign({ 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }, page.headers));
      res.end(page.html);
    });
  }
  async start() {
    await new Promise((r) => this.server.listen(0, '127.0.0.1', r));
    this.origin = `http://127.0.0.1:${this.server.address().port}`;
  }
  set(path, html, headers = {}) {
    this.pages.set(path, { html, headers });
    return this.origin + path;
  }
  async stop() {
    await new Promise((r) => this.server.close(r));
  }
}

// A page embedding the tag with the documented snippet; `head` runs before it (inline
// lpTag code a site might have), `body` is the page's markup.
export function shopPage(engage, { head = '', body = '', title = 'Test shop', nonce = '' } = {}) {
  const snippet = SNIPPET.replace(/ACCOUNT_ID/g, engage.account).replace('https://ENGAGE_HOST', engage.url);
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>
<style>body{font:16px/1.5 Georgia,serif;margin:0;padding:24px;background:#fafafa}
/* hostile page CSS: the engagements' shadow DOM must not care */
button{background:hotpink!important;font-size:40px} div{letter-spacing:3px} p{color:red}</style>
<script${nonce ? ` nonce="${nonce}"` : ''}>${head}</script>
<script${nonce ? ` nonce="${nonce}"` : ''}>${snippet}</script></head><body><h1>${title}</h1><p>Products, cart and checkout.</p>${body}</body></html>`;
}

// `userAgent`: what every request of the browser says it is, beacons and keepalive fetches
// included (a context's userAgent option does not reach those).
export async function launch({ userAgent } = {}) {
  const { chromium } = await import('playwright-core');
  mkdirSync(OUTPUT, { recursive: true });
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
  if (userAgent) args.push(`--user-agent=${userAgent}`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

// Waits for `predicate()` evaluated in the page to be truthy.
export async function until(page, predicate, arg, ms = 10000) {
  await page.waitForFunction(predicate, arg, { timeout: ms, polling: 50 });
}

// Calls an authenticated (Bearer) route of the account; throws with the answer when it fails.
Engage.prototype.api = async function (method, path, body) {
  const r = await fetch(this.url + path.replace('{account}', this.account), {
    method,
    headers: { authorization: 'Bearer ' + this.apiKey, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path} answered ${r.status}: ${text}`);
  return text ? JSON.parse(text) : null;
};

// What most test files start before their tests: the server with a new account, the pages
// server and Chromium. If a step fails, what already started is stopped before the error
// goes on, so a failed start leaves no process behind.
export async function startWorld(accountName) {
  requireTools();
  const world = { engage: new Engage() };
  try {
    world.engage.createAccount(accountName);
    await world.engage.start();
    world.pages = new Pages();
    await world.pages.start();
    world.browser = await launch();
    return world;
  } catch (e) {
    await stopWorld(world);
    throw e;
  }
}

// Stops what `startWorld` (or a file's own setup) started, the browser first.
export async function stopWorld({ engage, pages, browser } = {}) {
  if (browser) await browser.close();
  if (pages) await pages.stop();
  if (engage) await engage.cleanup();
}
