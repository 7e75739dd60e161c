// lpTag.hooks: `lpTag.hooks.push({name, callback(options) → options})`. Hooks of a name run
// in push order, each getting what the previous returned; a non-object return, or a hook
// that throws, is ignored (the previous options go on).

const runHooks = (name, options) => {
  const hooks = window.lpTag.hooks;
  if (!hooks || typeof hooks.length !== 'number') return options;
  for (let i = 0; i < hooks.length; i++) {
    const h = hooks[i];
    if (!h || h.name !== name || typeof h.callback !== 'function') continue;
    try {
      const out = h.callback(options);
      if (out && typeof out === 'object') options = out;
    } catch (e) {
      log('error', 'the ' + name + ' hook threw', e);
    }
  }
  return options;
};
