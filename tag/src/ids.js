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
