// A minimal Chrome DevTools Protocol client over --remote-debugging-pipe, for measuring a
// page without the instrumentation a full driver switches on. Playwright enables the
// Network, Page and Runtime domains of every page it drives; with them on, Chromium
// captures a JavaScript stack trace for each request a script starts and reports every
// console call, which costs main-thread time that no visitor's browser spends. Here a
// page only gets the domains a measurement asks for (Runtime.evaluate and the browser's
// Tracing need none).

import { spawn } from 'node:child_process';

export async function launch(executable, extraArgs = []) {
  const proc = spawn(
    executable,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-extensions',
      '--no-first-run',
      '--no-default-browser-check',
      '--remote-debugging-pipe',
      ...extraArgs,
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] }
  );
  const out = proc.stdio[3];
  const inp = proc.stdio[4];
  let seq = 0;
  const pending = new Map();
  const listeners = new Set();
  let buf = '';
  inp.setEncoding('utf8');
  inp.on('data', (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\0')) >= 0) {
      const msg = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      if (msg.id !== undefined) {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`));
        else p.resolve(msg.result);
      } else {
        for (const l of listeners) l(msg);
      }
    }
  });
  const send = (method, params = {}, sessionId) =>
    new Promise((resolve, reject) => {
      const id = ++seq;
      pending.set(id, { resolve, reject, method });
      out.write(JSON.stringify(sessionId ? { id, method, params, sessionId } : { id, method, params }) + '\0');
    });
  const on = (fn) => (listeners.add(fn), () => listeners.delete(fn));
  const close = async () => {
    try {
      await send('Browser.close');
    } catch (e) {
      // already gone
    }
    proc.kill();
  };
  return { send, on, close };
}

// A fresh browser context (a first visit) with one page at `url`, loaded.
export async function openPage(cdp, url) {
  const { browserContextId } = await cdp.send('Target.createBrowserContext');
  const { targetId } = await cdp.send('Target.createTarget', { url, browserContextId });
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
  const evaluate = async (expression) => {
    const r = await cdp.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, sessionId);
    if (r.exceptionDetails) throw new Error(r.exceptionDetails.exception?.description || r.exceptionDetails.text);
    return r.result.value;
  };
  // waits until a new document at `url` has loaded (the old one is marked, so that its
  // own readyState does not count)
  const loaded = async () => {
    for (let i = 0; ; i++) {
      const state = await evaluate('location.href !== "about:blank" && !window.__engageOld && document.readyState').catch(() => null);
      if (state === 'complete') break;
      if (i > 500) throw new Error(`${url} did not load`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  await loaded();
  return {
    sessionId,
    evaluate,
    // loads `url` again in the same context (a returning visit: same storage and cookies)
    reload: async () => {
      await evaluate(`window.__engageOld = 1; location.href = ${JSON.stringify(url)}; 0`);
      await loaded();
    },
    // calls `fn(arg)` in the page and waits for the promise it returns
    run: (fn, arg) => evaluate(`(${fn})(${JSON.stringify(arg)})`),
    close: () => cdp.send('Target.disposeBrowserContext', { browserContextId }),
  };
}

// Records a trace of `categories` around `body()`; resolves to its events.
export async function traced(cdp, categories, body) {
  const events = [];
  const off = cdp.on((msg) => {
    if (msg.method === 'Tracing.dataCollected') events.push(...msg.params.value);
  });
  const complete = new Promise((resolve) => {
    const stop = cdp.on((msg) => msg.method === 'Tracing.tracingComplete' && (stop(), resolve()));
  });
  await cdp.send('Tracing.start', { traceConfig: { includedCategories: categories }, transferMode: 'ReportEvents' });
  try {
    await body();
  } finally {
    await cdp.send('Tracing.end');
    await complete;
    off();
  }
  return events;
}
