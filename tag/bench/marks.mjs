// Main-thread CPU between moments a page marks, read from Chromium's trace: every
// performance.mark is a trace event carrying the renderer main thread's CPU clock (`tts`),
// so the time between two marks is what that thread ran in between, whatever else the
// machine was doing, and without the DevTools round trips around a page.evaluate.

import { openPage, traced } from './cdp.mjs';

// In the page: the documented snippet, with marks at its start ("snippet"), at LP_OFFERS
// START ("START") and after the frame that follows OFFER_DISPLAY ("painted"). The
// listeners are the page's own, bound through the snippet's queue.
export const RUN_TAG = (snippet) =>
  new Promise((done) => {
    window.lpTag = {};
    performance.mark('engage-snippet');
    new Function(snippet)();
    lpTag.events.bind('LP_OFFERS', 'START', () => performance.mark('engage-START'));
    lpTag.events.bind('LP_OFFERS', 'OFFER_DISPLAY', () =>
      requestAnimationFrame(() => setTimeout(() => (performance.mark('engage-painted'), done()), 0))
    );
  });

// The same for an empty script added as the snippet adds the tag: marks at its insertion
// ("snippet"), at its load event ("START") and after the next frame ("painted").
export const RUN_EMPTY = (src) =>
  new Promise((done) => {
    performance.mark('engage-snippet');
    const s = document.createElement('script');
    s.async = true;
    s.src = src;
    s.onload = () => {
      performance.mark('engage-START');
      requestAnimationFrame(() => setTimeout(() => (performance.mark('engage-painted'), done()), 0));
    };
    document.head.appendChild(s);
  });

// The page's engage-* marks in a trace: by name, and every step between two consecutive
// marks with its CPU time (an instrumented build adds performance.mark('engage-<step>')
// calls to split the time further).
export function readMarks(trace) {
  const marks = {};
  const steps = [];
  for (const e of trace) {
    if (e.cat !== 'blink.user_timing' || !e.name.startsWith('engage-')) continue;
    marks[e.name.slice(7)] = e;
    steps.push(e);
  }
  steps.sort((a, b) => a.ts - b.ts);
  const ms = (a, b) => (marks[a] && marks[b] ? (marks[b].tts - marks[a].tts) / 1000 : NaN);
  return {
    marks,
    start: ms('snippet', 'START'),
    painted: ms('snippet', 'painted'),
    phases: steps.slice(1).map((e, i) => [`${steps[i].name.slice(7)} → ${e.name.slice(7)}`, (e.tts - steps[i].tts) / 1000]),
  };
}

// One first visit: a fresh browser context at `url`, then `fn(arg)` in the page while
// Chromium traces `categories`. With `returning`, `fn(arg)` runs once untraced first and
// the page is loaded again in the same context: a returning visitor's page view.
export async function markedLoad(cdp, url, fn, arg, { categories = ['blink.user_timing'], settleMs = 100, before, after, returning = false } = {}) {
  const page = await openPage(cdp, url);
  if (returning) {
    await page.run(fn, arg);
    await new Promise((r) => setTimeout(r, 1500)); // the first view's events go out
    await page.reload();
  }
  if (before) await before(page);
  const trace = await traced(cdp, categories, async () => {
    await new Promise((r) => setTimeout(r, settleMs)); // the renderer picks tracing up on its own time
    await page.run(fn, arg);
  });
  const extra = after ? await after(page) : undefined;
  await page.close();
  return { trace, extra, ...readMarks(trace) };
}
