// An lpTag prepared the way LivePerson's published web tag snippet (versions 1.6 to 1.10)
// prepares it, written here from its documented and observable behaviour (not a copy of
// it): the same member names, flags, arrays and order, so that the tests show that a page
// which keeps that snippet and only sets lpTag.ovr.domain works with Engage. Plain ES5 so
// that it runs as a page script too (tag/browser reads this file). Call
// lpShapedSnippet(site, domain, protocol); `window._lptStop` keeps it from loading the tag,
// as it does LivePerson's.
function lpShapedSnippet(site, domain, protocol) {
  window.lpTag = window.lpTag || {};
  if (typeof window.lpTag._tagCount !== 'undefined') {
    // A second copy of the snippet only counts itself.
    window.lpTag._tagCount += 1;
    return;
  }
  var prev = window.lpTag;
  var ovr = prev.ovr || {};
  if (domain) ovr.domain = domain;
  var t = (window.lpTag = {
    site: site || '',
    section: prev.section || '',
    tagletSection: prev.tagletSection || null,
    autoStart: prev.autoStart !== false,
    ovr: ovr,
    _v: '1.10.0',
    _tagCount: 1,
    protocol: protocol || 'https:',
    events: {
      // Before the tag arrives, binds and triggers become deferred functions.
      bind: function (app, ev, fn) {
        window.lpTag.defer(function () { window.lpTag.events.bind(app, ev, fn); }, 0);
      },
      trigger: function (app, ev, data) {
        window.lpTag.defer(function () { window.lpTag.events.trigger(app, ev, data); }, 1);
      }
    },
    // 0: a bind (_defB), 1: a trigger (_defT), anything else: once loaded (_defL).
    defer: function (fn, kind) {
      if (kind === 0) (this._defB = this._defB || []).push(fn);
      else if (kind === 1) (this._defT = this._defT || []).push(fn);
      else (this._defL = this._defL || []).push(fn);
    },
    load: function (src, charset, id) {
      var self = this;
      setTimeout(function () { self._load(src, charset, id); }, 0);
    },
    _load: function (src, charset, id) {
      var url = src || this.protocol + '//' + (this.ovr && this.ovr.domain ? this.ovr.domain : 'lptag.liveperson.net') + '/tag/tag.js?site=' + this.site;
      var s = document.createElement('script');
      s.setAttribute('charset', charset || 'UTF-8');
      if (id) s.setAttribute('id', id);
      s.setAttribute('src', url);
      document.getElementsByTagName('head').item(0).appendChild(s);
    },
    init: function () {
      this._timing = this._timing || {};
      this._timing.start = new Date().getTime();
      var self = this;
      window.addEventListener('DOMContentLoaded', function () { self._domReady('contReady'); }, false);
      window.addEventListener('load', function () { self._domReady('domReady'); }, false);
      if (typeof window._lptStop === 'undefined') this.load();
    },
    // Before the tag has loaded this only lifts the flag; the tag replaces it.
    start: function () {
      this.autoStart = true;
    },
    _domReady: function (when) {
      if (!this.isDom) {
        this.isDom = true;
        this.events.trigger('LPT', 'DOM_READY', { t: when });
      }
      this._timing[when] = new Date().getTime();
    },
    vars: prev.vars || [],
    dbs: prev.dbs || [],
    ctn: prev.ctn || [],
    sdes: prev.sdes || [],
    hooks: prev.hooks || [],
    identities: prev.identities || [],
    ev: prev.ev || []
  });
  t.init();
}
