window.lpTag = window.lpTag || {};
(function (t, d, site) {
  if (t._engage || t._q) return;
  var q = (t._q = []);
  t.site = t.site || site;
  t.sdes = t.sdes || [];
  t.hooks = t.hooks || [];
  t.events = t.events || {
    bind: function () { q.push(['bind', arguments]); },
    trigger: function () { q.push(['trigger', arguments]); }
  };
  var s = d.createElement('script');
  s.async = true;
  s.src = 'https://ENGAGE_HOST/tag/tag.js?site=' + encodeURIComponent(site);
  (d.head || d.documentElement).appendChild(s);
})(window.lpTag, document, 'ACCOUNT_ID');
