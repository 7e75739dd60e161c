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
