// The demo shop: a catalog, a cart kept in localStorage, the Engage embed snippet, and
// each page's sections and SDE pushes. Every page calls Demo.page({...}) first.
(function () {
  'use strict';
  var CATALOG = [
    { sku: 'tea-sencha', name: 'Sencha green tea', category: 'tea', price: 12.5, color: '#9bb87a', stock: 40 },
    { sku: 'tea-assam', name: 'Assam breakfast tea', category: 'tea', price: 9.9, color: '#a0522d', stock: 12 },
    { sku: 'pot-clay', name: 'Clay teapot', category: 'teaware', price: 48, color: '#b5651d', stock: 3 },
    { sku: 'cup-set', name: 'Porcelain cup set', category: 'teaware', price: 36, color: '#d9d4c7', stock: 0 },
    { sku: 'kettle', name: 'Gooseneck kettle', category: 'teaware', price: 79, color: '#4a4a4a', stock: 7 },
    { sku: 'honey', name: 'Wildflower honey', category: 'pantry', price: 11, color: '#e3a82b', stock: 25 }
  ];

  // The account: ?site= on the URL, remembered for the rest of the visit.
  var params = new URLSearchParams(location.search);
  var site = params.get('site') || sessionStorage.getItem('engage-demo-site') || '';
  if (params.get('site')) sessionStorage.setItem('engage-demo-site', site);

  function cart() {
    try { return JSON.parse(localStorage.getItem('engage-demo-cart')) || []; } catch (e) { return []; }
  }
  function saveCart(items) { localStorage.setItem('engage-demo-cart', JSON.stringify(items)); }
  function product(sku) { return CATALOG.filter(function (p) { return p.sku === sku; })[0]; }
  function total(items) { return Math.round(items.reduce(function (s, i) { return s + product(i.sku).price * i.quantity; }, 0) * 100) / 100; }
  function count(items) { return items.reduce(function (s, i) { return s + i.quantity; }, 0); }
  function productSde(p) { return { name: p.name, category: p.category, sku: p.sku, price: p.price }; }
  function cartSde(items) {
    return {
      type: 'cart', total: total(items), currency: 'USD', numItems: count(items),
      products: items.map(function (i) { return { product: productSde(product(i.sku)), quantity: i.quantity }; })
    };
  }
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]; }); }

  // The documented embed snippet (README.md, "Embedding the tag"), for this server.
  function embed(sections, sdes) {
    window.lpTag = window.lpTag || {};
    lpTag.section = sections;
    lpTag.sdes = lpTag.sdes || [];
    for (var i = 0; i < sdes.length; i++) lpTag.sdes.push(sdes[i]);
    (function (t, d, s) {
      if (t._engage || t._q) return;
      var q = (t._q = []);
      t.site = t.site || s;
      t.sdes = t.sdes || [];
      t.hooks = t.hooks || [];
      t.events = t.events || {
        bind: function () { q.push(['bind', arguments]); },
        trigger: function () { q.push(['trigger', arguments]); }
      };
      var e = d.createElement('script');
      e.async = true;
      e.src = location.origin + '/tag/tag.js?site=' + encodeURIComponent(s);
      (d.head || d.documentElement).appendChild(e);
    })(window.lpTag, document, site);
  }

  function header() {
    var n = count(cart());
    return '<header><a class="brand" href="./">Leaf &amp; Kettle</a><nav>' +
      '<a href="./">Home</a><a href="products.html">Shop</a><a href="cart.html">Cart</a><a href="checkout.html">Checkout</a></nav>' +
      '<a class="cart" href="cart.html" id="cart-count">Cart: ' + n + (n === 1 ? ' item' : ' items') + '</a></header>';
  }

  window.Demo = {
    catalog: CATALOG, cart: cart, saveCart: saveCart, product: product, total: total, count: count,
    cartSde: cartSde, productSde: productSde, esc: esc, site: function () { return site; },
    // Sets up a page: the header, the notice when no account is given, and the tag.
    page: function (options) {
      document.body.insertAdjacentHTML('afterbegin', header());
      if (!site) {
        document.querySelector('main').insertAdjacentHTML('afterbegin',
          '<div class="notice">This demo needs an account: run <code>engage account create --name demo</code>, ' +
          'make its campaigns (see <code>web/README.md</code>), then open this page as <code>/demo/?site=ACCOUNT_ID</code>.</div>');
        return;
      }
      embed(options.sections, options.sdes || []);
    },
    add: function (sku) {
      var items = cart();
      var line = items.filter(function (i) { return i.sku === sku; })[0];
      if (line) line.quantity++; else items.push({ sku: sku, quantity: 1 });
      saveCart(items);
      var n = count(items);
      document.getElementById('cart-count').textContent = 'Cart: ' + n + (n === 1 ? ' item' : ' items');
      // The cart changed: the visit's cart SDE is replaced (docs/vocabulary.md, Visit rule).
      if (window.lpTag && lpTag.sdes) lpTag.sdes.push(cartSde(items));
    }
  };
})();
