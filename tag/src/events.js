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
