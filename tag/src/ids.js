// The visit: a visitor id that survives reloads (two years), a session id that ends after
// 30 minutes without activity, and a page id per page view (a load, or lpTag.newPage).

const VISITOR_KEY = '_engage_vid';
const SESSION_KEY = '_engage_sid';
const SESSION_IDLE_MS = 30 * 60 * 1000;

const readId = (key) => lsGet(key) || cookieGet(key);
// Writes only what differs: storage writes are synchronous work on every page load.
const writeId = (key, value, maxAgeSeconds) => {
  if (lsGet(key) !== value) lsSet(key, value);
  if (cookieGet(key) !== value) cookieSet(key, value, maxAgeSeconds);
};

const createVisit = () => {
  let visitorId = readId(VISITOR_KEY);
  if (!visitorId || visitorId.length > 64) {
    visitorId = uuid7();
  }
  writeId(VISITOR_KEY, visitorId, 63072000);

  let sessionId = null;
  let lastActive = 0;
  let written = 0;
  const stored = readId(SESSION_KEY); // "<id>.<last activity ms>"
  if (stored) {
    const dot = stored.lastIndexOf('.');
    const t = +stored.slice(dot + 1);
    if (dot > 0 && now() - t < SESSION_IDLE_MS) {
      sessionId = stored.slice(0, dot);
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
      writeId(SESSION_KEY, sessionId + '.' + t, SESSION_IDLE_MS / 1000);
    }
    return sessionId;
  };
  session();
  return { visitorId, session };
};
