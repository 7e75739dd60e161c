// The engagement editor's live preview (appended to the tag's util.js, hooks.js and
// render.js in one function by the server, see console/assets.rs): every change of the
// form draws the engagement again with the tag's own renderer, inside the preview pane.
// The pane is transformed, so the renderer's fixed positions are the pane's corners, not
// the window's; an embedded engagement goes into the pane's zone element.

window.lpTag = window.lpTag || { hooks: [] };

const previewForm = document.querySelector('form[data-preview]');
const previewPane = document.getElementById('preview');

if (previewForm && previewPane) {
  const page = previewPane.querySelector('.preview-page');
  const zone = previewPane.querySelector('[data-engage-zone]');
  // What the renderer needs of the tag: a place to send lifecycle events (the preview
  // is no impression, so none are sent anywhere), the ids and the page.
  const previewTag = {
    events: { trigger: () => {} },
    ids: () => ({ visitorId: 'preview', sessionId: 'preview' }),
    pageId: 'preview',
    url: location.href,
  };
  const renderer = createRenderer(previewTag);
  const field = (name) => previewForm.querySelector(`[name="${name}"]`);
  const text = (name) => {
    const f = field(name);
    return f && f.value.trim() !== '' ? f.value : null;
  };

  const draw = () => {
    renderer.clear();
    const type = Number(field('/engagementType').value);
    const engagement = {
      campaignId: 1,
      engagementId: 1,
      engagementRevision: 1,
      engagementType: type,
      contextId: 'preview',
      zoneId: 'preview',
      state: Number(previewPane.getAttribute('data-state')) || 1,
      confKey: '1_1_1',
      tglName: text('/tglName') || '',
      engagementName: text('/name') || 'Engagement',
      content: {
        title: text('/content/title'),
        body: text('/content/body'),
        acceptLabel: text('/content/acceptLabel'),
        closeLabel: text('/content/closeLabel'),
      },
    };
    renderer.show(engagement);
    // The renderer put it on the page's body (or in the zone, for an embedded one):
    // into the pane it goes, where the pane's transform holds its fixed position.
    for (const host of document.body.querySelectorAll(':scope > engage-offer')) page.append(host);
    // Its buttons do nothing here: out of the Tab order and the accessibility tree, the
    // form's own fields say what it will show.
    for (const host of previewPane.querySelectorAll('engage-offer')) host.inert = true;
    previewPane.setAttribute('data-type', String(type));
    zone.hidden = type !== 5;
  };
  previewForm.addEventListener('input', draw);
  previewForm.addEventListener('change', draw);
  draw();
}
