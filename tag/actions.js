/*! Engage tag actions, Apache-2.0, built from tag/src/actions.js. */
// The action renderers: what an engagement's accept button leads to (docs/api.md,
// Engagement actions). Served as /tag/actions.js and loaded by the tag only when an
// engagement with an `action` is shown, so pages without one never pay for it. The tag
// hands each such engagement over in lpTag._engage.tag.acts as
// [engagement, LP_OFFERS data, card, its lifecycle (end), fire(eventName), openChannel];
// from here on pushes run at once.
//
// - link: OFFER_CLICK, then the URL with {contextId} and {engagementId} filled in, through
//   BEFORE_ENG_CHANNEL_OPEN (hooks may change or take over) in this tab or a new one.
// - form: OFFER_CLICK opens the form inside the card; it is checked here, and again by
//   the server: a valid submit goes through the outbox (nothing is lost offline) as one
//   form submission, the values with the engagement context they answer, which the
//   server checks against that engagement's form and turns into a `lead` SDE and a
//   `personal` one (when contact details were given). The page holds the same SDEs
//   (lpTag.sdes.get, lp_sdes/VAR_ADDED), shows the thank-you state and fires
//   ENGAGE_ACTION/LEAD_SUBMITTED.
// - coupon: OFFER_CLICK reveals the code with a copy button; the reveal and each copy
//   are ENGAGE_ACTION/COUPON_REVEALED and COUPON_COPIED on the page's bus, and events of
//   the context that the server records and counts.
// - chat: OFFER_CLICK, then the provider's widget through its public API when it is on
//   the page, or else BEFORE_ENG_CHANNEL_OPEN as without an action.

(() => {
  'use strict';
  const lpTag = window.lpTag;
  const tag = lpTag && lpTag._engage && lpTag._engage.tag;
  if (!tag || !Array.isArray(tag.acts) || tag.acts.run) return;

  const CSS =
    'form{display:grid;gap:8px;margin:0 0 4px}label{display:grid;gap:2px;font-size:13px;font-weight:600}' +
    'input,select,textarea{font:inherit;font-weight:400;padding:6px 8px;border:1px solid #d0d7de;border-radius:6px;color:#1f2328;background:#fff}' +
    '[aria-invalid=true]{border-color:#cf222e}.err{color:#cf222e;font-size:12px;font-weight:400}.err:empty{display:none}' +
    '.code{display:flex;gap:8px;align-items:center}.code output{font:600 18px/1.2 monospace;letter-spacing:.08em;padding:6px 10px;border:2px dashed #0b5cff;border-radius:8px}' +
    '[data-action=submit],[data-action=copy]{padding:8px 16px;border-radius:8px;background:#0b5cff;color:#fff;font-weight:600}';
  let sheet;
  const style = (root) => {
    try {
      if (sheet === undefined) {
        sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
      }
      root.adoptedStyleSheets = root.adoptedStyleSheets.concat(sheet);
    } catch (e) {
      const s = document.createElement('style');
      s.textContent = CSS;
      root.append(s);
    }
  };
  const el = (name, attributes, text) => {
    const n = document.createElement(name);
    for (const k in attributes) n.setAttribute(k, attributes[k]);
    if (text != null) n.textContent = text;
    return n;
  };
  const warn = (message, detail) => {
    try {
      console.warn('[engage] ' + message, detail === undefined ? '' : detail);
    } catch (e) {
      // no console
    }
  };
  const emit = (name, data) => tag.events.trigger('ENGAGE_ACTION', name, data);
  // An ENGAGE_ACTION event of the context for the server, with the context's LP_OFFERS
  // data, as the lifecycle's go.
  const record = (name, data) =>
    tag.enqueue('events', { id: tag.uuid(), time: Date.now(), appName: 'ENGAGE_ACTION', eventName: name, data });

  // The fields a form may have (docs/api.md, Engagement actions): the input, its default
  // label, its longest value and the check the page makes before sending.
  const FIELDS = {
    name: { type: 'text', label: 'Name', max: 200, autocomplete: 'name' },
    email: { type: 'email', label: 'Email', max: 254, autocomplete: 'email', check: (v) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v) || 'enter an email address such as name@example.com' },
    phone: { type: 'tel', label: 'Phone', max: 40, autocomplete: 'tel', check: (v) => /^\+?[0-9 ().\-]{6,40}$/.test(v) || 'enter a phone number such as +1 555 010 0000' },
    company: { type: 'text', label: 'Company', max: 200, autocomplete: 'organization' },
    topic: { label: 'Topic', max: 100 },
    message: { label: 'Message', max: 2000 },
  };

  // The chat widgets a `chat` action opens through their public JavaScript APIs; each
  // answers whether it found its widget on the page.
  const PROVIDERS = {
    intercom: () => typeof window.Intercom === 'function' && (window.Intercom('show'), true),
    zendesk: () => typeof window.zE === 'function' && (window.zE('messenger', 'open'), true),
    crisp: () => window.$crisp && typeof window.$crisp.push === 'function' && (window.$crisp.push(['do', 'chat:open']), true),
    tawk: () => window.Tawk_API && typeof window.Tawk_API.maximize === 'function' && (window.Tawk_API.maximize(), true),
    livechat: () => window.LiveChatWidget && typeof window.LiveChatWidget.call === 'function' && (window.LiveChatWidget.call('maximize'), true),
  };

  // Replaces the card's accept button with `nodes`; the card keeps its title and body.
  const replaceAccept = (card, nodes) => {
    const accept = card.querySelector('[data-action=accept]');
    if (accept) accept.replaceWith(...nodes);
    else card.append(...nodes);
  };

  // Once the visitor has started using the action, the display timeout no longer ends
  // it, and closing it is no longer a decline: the card just goes (OFFER_REMOVE).
  const engage = (x, card) => {
    const end = x.end;
    x.end = (name, then) => name !== 'OFFER_TIMEOUT' && end(name, then);
    const close = card.querySelector('[data-action=close]');
    if (close) close.addEventListener('click', (ev) => (ev.stopImmediatePropagation(), x.end(null)), true);
  };

  const fill = (url, e) =>
    url.replace(/\{contextId\}/g, encodeURIComponent(e.contextId)).replace(/\{engagementId\}/g, encodeURIComponent(e.engagementId));

  const link = ([e, data, , x, , openChannel], action) => () =>
    x.end('OFFER_CLICK', () => openChannel(tag, Object.assign({}, e, { url: fill(action.url, e), target: action.newTab ? '_blank' : '_self' }), data));

  const chat = ([e, data, , x, , openChannel], action) => () =>
    x.end('OFFER_CLICK', () => {
      const open = PROVIDERS[action.provider];
      let opened = false;
      try {
        opened = !!(open && open());
      } catch (err) {
        warn('the ' + action.provider + ' widget could not be opened', err);
      }
      if (!opened) openChannel(tag, e, data);
    });

  const coupon = ([e, data, card, x, fire], action) => () => {
    fire('OFFER_CLICK');
    engage(x, card);
    const code = el('output', { 'data-coupon': '' }, action.code);
    const copy = el('button', { 'data-action': 'copy', type: 'button' }, action.copyLabel || 'Copy');
    copy.addEventListener('click', () => {
      const done = () => {
        copy.textContent = 'Copied';
        record('COUPON_COPIED', data);
        emit('COUPON_COPIED', Object.assign({ code: action.code }, data));
      };
      const fallback = () => {
        const range = document.createRange();
        range.selectNodeContents(code);
        const selection = getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        try {
          if (document.execCommand('copy')) done();
        } catch (err) {
          warn('copying the code failed: it is selected', err);
        }
      };
      if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(action.code).then(done, fallback);
      else fallback();
    });
    const box = el('div', { class: 'code' });
    box.append(code, copy);
    replaceAccept(card, [box]);
    record('COUPON_REVEALED', data);
    emit('COUPON_REVEALED', Object.assign({ code: action.code }, data));
  };

  // The SDEs a valid form becomes (the server makes the same from the submission): the
  // lead (its topic, the message, the engagement context as its id) and, when contact
  // details were given, who the visitor is.
  const formSdes = (values, e) => {
    const topic = [values.topic, values.message].filter(Boolean).join(': ') || e.engagementName || 'lead';
    const sdes = [{ type: 'lead', lead: { topic, leadId: String(e.contextId) } }];
    const personal = {};
    if (values.name) {
      const [first, ...rest] = values.name.split(/\s+/);
      personal.firstname = first;
      if (rest.length) personal.lastname = rest.join(' ');
    }
    const contact = {};
    if (values.email) contact.email = values.email;
    if (values.phone) contact.phone = values.phone;
    if (contact.email || contact.phone) personal.contacts = [contact];
    if (values.company) personal.company = values.company;
    if (Object.keys(personal).length) sdes.push({ type: 'personal', personal });
    return sdes;
  };

  const form = ([e, data, card, x, fire], action) => () => {
    fire('OFFER_CLICK');
    engage(x, card);
    const f = el('form', { novalidate: '' });
    const inputs = [];
    for (const field of action.fields || []) {
      const spec = FIELDS[field.name];
      if (!spec) continue;
      const id = 'f-' + field.name;
      let input;
      if (field.name === 'topic' && Array.isArray(field.choices)) {
        input = el('select', { name: field.name, id });
        input.append(el('option', { value: '' }, '\u2014'));
        for (const c of field.choices) input.append(el('option', { value: c }, c));
      } else if (field.name === 'message') {
        input = el('textarea', { name: field.name, id, rows: 3, maxlength: spec.max });
      } else {
        input = el('input', { name: field.name, id, type: spec.type || 'text', maxlength: spec.max });
        if (spec.autocomplete) input.setAttribute('autocomplete', spec.autocomplete);
      }
      if (field.required) input.setAttribute('aria-required', 'true');
      const error = el('span', { class: 'err', id: id + '-err', role: 'alert' }, '');
      input.setAttribute('aria-describedby', error.id);
      const label = el('label', { for: id }, (field.label || spec.label) + (field.required ? ' *' : ''));
      label.append(input, error);
      f.append(label);
      inputs.push({ field, spec, input, error });
    }
    f.append(el('button', { 'data-action': 'submit', type: 'submit' }, action.submitLabel || 'Send'));
    f.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const values = {};
      let first = null;
      for (const { field, spec, input, error } of inputs) {
        const v = input.value.trim();
        let why = '';
        if (!v) why = field.required ? 'required' : '';
        else if (v.length > spec.max) why = 'at most ' + spec.max + ' characters';
        else if (field.choices && !field.choices.includes(v)) why = 'choose one of the list';
        else if (spec.check && spec.check(v) !== true) why = spec.check(v);
        error.textContent = why;
        input.setAttribute('aria-invalid', why ? 'true' : 'false');
        if (why && !first) first = input;
        if (v && !why) values[field.name] = v;
      }
      if (first) return first.focus();
      const sdes = formSdes(values, e);
      // Through the outbox: kept in localStorage and sent again until the server has it.
      const id = tag.uuid();
      const form = { campaignId: data.campaignId, engagementId: data.engagementId, engagementRevision: data.engagementRevision, contextId: data.contextId, values };
      if (tag.enqueue('sdes', { id, time: Date.now(), form })) tag.send([id], (err) => err && warn('the lead was not stored: ' + err.message));
      for (const sde of sdes) {
        tag.pageSdes.push(sde);
        tag.events.trigger('lp_sdes', 'VAR_ADDED', sde);
      }
      emit('LEAD_SUBMITTED', Object.assign({ lead: sdes[0].lead, personal: sdes[1] && sdes[1].personal }, data));
      f.replaceWith(el('p', { 'data-thanks': '' }, action.thanks || 'Thank you! We will be in touch.'));
    });
    replaceAccept(card, [f]);
    const firstInput = f.querySelector('input,select,textarea');
    if (firstInput) firstInput.focus();
  };

  const RENDERERS = { link, form, coupon, chat };
  const run = (item) => {
    const [e, , card] = item;
    const action = e.action || {};
    const render = RENDERERS[action.type];
    if (!render) return warn('unknown action ' + action.type + ': the engagement shows without it', e);
    const root = card.getRootNode();
    if (root !== card && root.adoptedStyleSheets) style(root);
    const accept = card.querySelector('[data-action=accept]');
    if (accept) accept.addEventListener('click', render(item, action));
  };
  const queue = tag.acts;
  queue.run = true;
  for (const item of queue.splice(0)) run(item);
  // Answers more than 1, so the tag never loads this script again.
  queue.push = (item) => (run(item), 2);
})();
