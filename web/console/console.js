// The console's own script: no framework, no build. Pages are rendered by the server;
// this only does what a page must do without a reload.
//
// - Numbers (`data.num`) and times (`time[data-ms]`) are written for the browser's locale.
// - A form with `data-api="METHOD /console/api/..."` is sent as JSON: each field named by
//   a JSON pointer (`/content/title`) is written at that pointer, typed by `data-type`
//   (number, number-or-null, bool, list, lines), rows of a `data-list` become an array. The CSRF token of
//   the session goes in a header. On success the browser goes to `data-next` (with
//   `{member}` filled from the answer) or the answer is shown in `data-result`; on an
//   error each problem is shown beside the field its pointer names.
(() => {
  'use strict';

  const main = document.getElementById('main');
  const csrf = main && main.getAttribute('data-csrf');

  // ---- numbers and times, for the browser's locale
  const numbers = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
  const formatAll = (root) => {
    for (const d of root.querySelectorAll('data.num')) {
      const n = Number(d.value);
      if (Number.isFinite(n)) d.textContent = d.classList.contains('pct') ? numbers.format(n * 100) + ' %' : numbers.format(n);
    }
    for (const t of root.querySelectorAll('time[data-ms]')) {
      const ms = Number(t.getAttribute('data-ms'));
      if (Number.isFinite(ms)) t.textContent = new Date(ms).toLocaleString();
    }
  };
  formatAll(document);

  // ---- the browser's time zone: Overview, Results and the Campaigns list count days and
  // hours in it. The server reads it from this cookie (no secret; only under /console); a
  // page whose figures are by day was drawn in another zone when the cookie was missing or
  // different, so it is drawn again, once.
  const zone = (() => {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || '';
    } catch {
      return '';
    }
  })();
  const zoneCookie = () => (document.cookie.split('; ').find((c) => c.startsWith('engage_tz=')) || '').slice('engage_tz='.length);
  if (/^[A-Za-z0-9/_+-]{1,64}$/.test(zone) && zoneCookie() !== zone) {
    document.cookie = `engage_tz=${zone}; path=/console; max-age=31536000; samesite=strict` + (location.protocol === 'https:' ? '; secure' : '');
    if (zoneCookie() === zone && document.querySelector('[data-zoned]')) location.reload();
  }

  // The history filters' times are the browser's local times: the server is told its zone.
  for (const tz of document.querySelectorAll('[data-timezone-offset]')) tz.value = String(new Date().getTimezoneOffset());

  // ---- JSON pointers
  const unescape = (s) => s.replace(/~1/g, '/').replace(/~0/g, '~');
  const setAt = (target, pointer, value) => {
    const parts = pointer.split('/').slice(1).map(unescape);
    let at = target;
    parts.forEach((key, i) => {
      if (i === parts.length - 1) {
        at[key] = value;
      } else {
        if (at[key] == null) at[key] = /^\d+$/.test(parts[i + 1]) ? [] : {};
        at = at[key];
      }
    });
  };

  // A field's value as the API takes it; `undefined` leaves the member out.
  const valueOf = (field) => {
    const type = field.getAttribute('data-type');
    const text = field.value.trim();
    if (type === 'bool') return field.type === 'checkbox' ? field.checked : text === 'true';
    if (type === 'number') return text === '' ? undefined : Number(text);
    if (type === 'number-or-null') return text === '' ? null : Number(text);
    if (type === 'list' || type === 'lines') {
      const items = text.split(type === 'list' ? /[,\n]/ : /\n/).map((s) => s.trim()).filter(Boolean);
      return type === 'lines' || items.length ? items : undefined;
    }
    if (type === 'json') {
      if (text === '') return undefined;
      try {
        return JSON.parse(text);
      } catch {
        return text; // the server says what it expected, at this field's pointer
      }
    }
    if (type === 'auto') {
      if (text === 'true' || text === 'false') return text === 'true';
      return text !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
    }
    return text === '' ? undefined : field.value;
  };

  // An SDE condition's value: a list for `in`/`notIn`, a boolean for `exists`.
  const conditionValue = (row, field) => {
    const op = row.querySelector('[data-field="op"]');
    const raw = field.value.trim();
    if (op && (op.value === 'in' || op.value === 'notIn')) {
      return raw.split(',').map((s) => s.trim()).filter(Boolean).map((s) => (Number.isFinite(Number(s)) ? Number(s) : s));
    }
    if (op && op.value === 'exists') return raw !== 'false';
    return valueOf(field);
  };

  // The form as the API's JSON body; every field learns the pointer it was written at.
  const bodyOf = (form) => {
    const body = {};
    for (const field of form.querySelectorAll('[name^="/"]')) {
      if (field.closest('template')) continue;
      // Only the chosen action type's members are sent.
      const group = field.closest('[data-action-for]');
      if (group && group.hidden) continue;
      field.setAttribute('data-pointer', field.name);
      const value = valueOf(field);
      if (value !== undefined) setAt(body, field.name, value);
    }
    for (const list of form.querySelectorAll('[data-list]')) {
      const base = list.getAttribute('data-list');
      let i = 0;
      for (const row of list.querySelectorAll(':scope > [data-row]')) {
        const item = {};
        const path = row.querySelector('[data-field="path"]');
        if (path && path.value.trim() === '') continue; // a row added and left empty
        const key = row.querySelector('[data-key]');
        const keyed = row.querySelector('[data-value]');
        if (key && keyed) {
          if (keyed.value.trim() === '') continue;
          item[key.value] = keyed.value;
          keyed.setAttribute('data-pointer', `${base}/${i}/${key.value}`);
          key.setAttribute('data-pointer', `${base}/${i}`);
        }
        for (const field of row.querySelectorAll('[data-field]')) {
          const name = field.getAttribute('data-field');
          field.setAttribute('data-pointer', `${base}/${i}/${name}`);
          const value = name === 'value' ? conditionValue(row, field) : valueOf(field);
          if (value !== undefined) item[name] = value;
        }
        if (Object.keys(item).length === 0) continue;
        setAt(body, `${base}/${i}`, item);
        i++;
      }
    }
    return body;
  };

  // ---- errors beside their fields
  const clearErrors = (form) => {
    for (const e of form.querySelectorAll('.field-error[data-from-server]')) e.remove();
    for (const f of form.querySelectorAll('[aria-invalid]')) {
      f.removeAttribute('aria-invalid');
      f.removeAttribute('aria-describedby');
    }
    const summary = form.querySelector('.form-error');
    if (summary) {
      summary.hidden = true;
      summary.textContent = '';
    }
  };

  // The field a pointer names, or the one of its nearest parent that has a field.
  const fieldFor = (form, pointer) => {
    let p = pointer;
    while (p) {
      const f = [...form.querySelectorAll('[data-pointer]')].find((x) => x.getAttribute('data-pointer') === p);
      if (f) return f;
      const list = [...form.querySelectorAll('[data-list]')].find((x) => x.getAttribute('data-list') === p);
      if (list) return list;
      p = p.slice(0, p.lastIndexOf('/'));
    }
    return null;
  };

  let errorCount = 0;
  const showErrors = (form, answer, status) => {
    const summary = form.querySelector('.form-error');
    const problems = (answer && answer.errors) || [];
    const unplaced = [];
    let first = null;
    for (const problem of problems) {
      const field = fieldFor(form, problem.path || '');
      if (!field) {
        unplaced.push(problem);
        continue;
      }
      const note = document.createElement('p');
      note.className = 'field-error';
      note.setAttribute('data-from-server', '');
      note.id = 'field-error-' + ++errorCount;
      const code = document.createElement('code');
      code.textContent = problem.path;
      note.append(code, ' ' + problem.message);
      (field.closest('[data-row]') || field).after(note);
      field.setAttribute('aria-invalid', 'true');
      field.setAttribute('aria-describedby', note.id);
      if (!first) first = field;
    }
    if (summary) {
      const text = problems.length
        ? `Not saved: ${problems.length} problem${problems.length > 1 ? 's' : ''}` + (unplaced.length ? ': ' + unplaced.map((p) => `${p.path || '(body)'} ${p.message}`).join('; ') : ' (shown beside the fields).')
        : `Not saved: ${(answer && answer.message) || 'the server answered ' + status}`;
      summary.textContent = text;
      summary.hidden = false;
    }
    if (first && first.focus) first.focus();
  };

  const fill = (template, answer) => template.replace(/\{(\w+)\}/g, (_, k) => encodeURIComponent(answer[k] == null ? '' : answer[k]));

  const showResult = (box, answer) => {
    box.hidden = false;
    box.replaceChildren();
    if (answer && answer.appKey) {
      const p = document.createElement('p');
      p.textContent = 'Key created. Copy its secrets now: they are not shown again.';
      const dl = document.createElement('dl');
      dl.className = 'facts';
      for (const [name, label] of [['appKey', 'App key'], ['appSecret', 'App secret'], ['accessToken', 'Access token'], ['accessTokenSecret', 'Access token secret']]) {
        const dt = document.createElement('dt');
        dt.textContent = label;
        const dd = document.createElement('dd');
        const code = document.createElement('code');
        code.textContent = answer[name];
        dd.append(code);
        dl.append(dt, dd);
      }
      box.append(p, dl);
    } else if (answer && 'examined' in answer) {
      box.textContent = `Replayed ${answer.replayed} of ${answer.examined} entries: ${answer.accepted} items stored, ${answer.duplicates} already stored, ${answer.stillInvalid} still invalid.`;
      const again = document.createElement('a');
      again.href = location.pathname;
      again.textContent = ' Refresh the list';
      box.append(again);
    } else {
      box.textContent = 'Done.';
    }
    box.focus && box.setAttribute('tabindex', '-1');
    box.focus();
  };

  document.addEventListener('submit', async (event) => {
    const form = event.target;
    const api = form.getAttribute && form.getAttribute('data-api');
    if (!api) return;
    event.preventDefault();
    const confirmText = form.getAttribute('data-confirm');
    if (confirmText && !window.confirm(confirmText)) return;
    const [method, url] = api.split(' ');
    const button = form.querySelector('[type="submit"]');
    clearErrors(form);
    const body = method === 'DELETE' || url.endsWith('/replay') || url.endsWith('/keys') ? undefined : JSON.stringify(bodyOf(form));
    if (button) button.disabled = true;
    try {
      const response = await fetch(url, {
        method,
        credentials: 'same-origin',
        headers: Object.assign({ 'x-csrf-token': csrf || '' }, body ? { 'content-type': 'application/json' } : {}),
        body,
      });
      const text = await response.text();
      let answer = null;
      try {
        answer = text ? JSON.parse(text) : null;
      } catch (e) {
        answer = { message: text };
      }
      if (!response.ok) return showErrors(form, answer, response.status);
      const next = form.getAttribute('data-next');
      if (next) return location.assign(fill(next, answer || {}));
      const box = document.getElementById(form.getAttribute('data-result'));
      if (box) showResult(box, answer);
    } catch (e) {
      showErrors(form, { message: 'the server could not be reached' }, 0);
    } finally {
      if (button) button.disabled = false;
    }
  });

  // ---- rows of a list: add from its template, remove
  // The action type shows its own members' group and hides the others.
  document.addEventListener('change', (event) => {
    const select = event.target.closest && event.target.closest('[data-action-type]');
    if (!select) return;
    const form = select.closest('form');
    for (const group of form.querySelectorAll('[data-action-for]')) group.hidden = group.getAttribute('data-action-for') !== select.value;
  });

  document.addEventListener('click', (event) => {
    const add = event.target.closest && event.target.closest('[data-add]');
    if (add) {
      const list = [...document.querySelectorAll('[data-list]')].find((l) => l.getAttribute('data-list') === add.getAttribute('data-add'));
      const template = list && document.getElementById(list.getAttribute('data-template'));
      if (template) {
        const row = template.content.firstElementChild.cloneNode(true);
        list.append(row);
        const first = row.querySelector('input, select');
        if (first) first.focus();
        list.dispatchEvent(new Event('input', { bubbles: true }));
      }
      return;
    }
    const remove = event.target.closest && event.target.closest('[data-remove]');
    if (remove) {
      const row = remove.closest('[data-row]');
      const list = row && row.parentElement;
      if (row) row.remove();
      if (list) {
        list.dispatchEvent(new Event('input', { bubbles: true }));
        const next = list.parentElement.querySelector('[data-add]');
        if (next) next.focus();
      }
      return;
    }
    const copy = event.target.closest && event.target.closest('[data-copy]');
    if (copy) {
      const source = document.getElementById(copy.getAttribute('data-copy'));
      const status = copy.parentElement.querySelector('.copied');
      const done = (ok) => status && (status.textContent = ok ? 'Copied.' : 'Select the snippet and copy it.');
      if (navigator.clipboard && source) navigator.clipboard.writeText(source.textContent).then(() => done(true), () => done(false));
      else done(false);
    }
  });
})();
