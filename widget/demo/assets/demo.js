// The demo shop: home, product and cart pages over the generated demo
// catalogue, routed in the browser. Product data comes from GET
// /v1/items/{id}; every recommendation block is a widget.js placement.
(function () {
  'use strict';
  var CONSENT_KEY = 'recs_demo_consent', CART_KEY = 'recs_demo_cart';
  var app = document.getElementById('app');
  var Recs = window.Recs;

  // ---- consent: the choice is stored only when it is "yes" ----------------
  var consent = false;
  try { consent = localStorage.getItem(CONSENT_KEY) === 'yes'; } catch (e) { /* blocked */ }
  var banner = document.getElementById('consent-banner');
  var toggle = document.getElementById('consent-toggle');
  function setConsent(on, answered) {
    consent = on;
    try {
      if (on) {
        localStorage.setItem(CONSENT_KEY, 'yes');
        localStorage.setItem(CART_KEY, JSON.stringify(cart));
      } else {
        localStorage.removeItem(CONSENT_KEY);
        localStorage.removeItem(CART_KEY);
      }
    } catch (e) { /* blocked */ }
    Recs.setConsent(on);
    toggle.textContent = 'Personalisation: ' + (on ? 'on' : 'off');
    toggle.setAttribute('aria-pressed', String(on));
    if (answered) banner.hidden = true;
  }
  document.getElementById('consent-yes').onclick = function () { setConsent(true, true); };
  document.getElementById('consent-no').onclick = function () { setConsent(false, true); };
  toggle.onclick = function () { setConsent(!consent, true); };

  // ---- the cart: in memory, in localStorage only with consent -------------
  var cart = [];
  if (consent) try { cart = JSON.parse(localStorage.getItem(CART_KEY)) || []; } catch (e) { cart = []; }
  function saveCart() {
    if (consent) try { localStorage.setItem(CART_KEY, JSON.stringify(cart)); } catch (e) { /* memory only */ }
    document.getElementById('cart-count').textContent = cart.reduce(function (n, l) { return n + l.qty; }, 0);
  }
  function addToCart(item) {
    var line = cart.find(function (l) { return l.id === item.id; });
    if (line) line.qty++;
    else cart.push({ id: item.id, qty: 1 });
    saveCart();
    Recs.track('add_to_cart', [{ item_id: item.id, quantity: 1, price: item.price }]);
  }
  function removeFromCart(id) {
    cart = cart.filter(function (l) { return l.id !== id; });
    saveCart();
    Recs.track('remove_from_cart', id);
  }

  // ---- helpers -------------------------------------------------------------
  function h(tag, attrs, kids) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), attrs[k]);
      else e.setAttribute(k, attrs[k]);
    });
    (kids || []).forEach(function (c) { if (c) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function money(p, cur) {
    try { return new Intl.NumberFormat('en', { style: 'currency', currency: cur || 'EUR' }).format(p); } catch (e) { return p.toFixed(2); }
  }
  var items = {};
  function getItem(id) {
    if (!items[id]) {
      items[id] = fetch('/v1/items/' + encodeURIComponent(id)).then(function (r) {
        if (!r.ok) throw new Error('item ' + id + ': ' + r.status);
        return r.json();
      });
      items[id].catch(function () { delete items[id]; });
    }
    return items[id];
  }
  // A placement element and, folded away, the tag that makes it.
  function placement(box, caption) {
    var tag = '<div' + Array.prototype.map.call(box.attributes, function (a) { return ' ' + a.name + '="' + a.value + '"'; }).join('') + '></div>';
    return h('section', { class: 'placement' }, [
      box,
      h('details', {}, [h('summary', { text: caption }), h('pre', {}, [h('code', { text: tag + '\n<script src="/widget.js" async></script>' })])])
    ]);
  }
  function show(title, nodes) {
    document.title = title + ' · recs demo shop';
    app.replaceChildren.apply(app, nodes);
  }

  // ---- pages ---------------------------------------------------------------
  function home() {
    show('Home', [
      h('section', { class: 'intro' }, [
        h('h1', { text: 'A shop that recommends' }),
        h('p', { text: 'This shop and its three months of shoppers are generated. The blocks below come from recs: ' +
          'open a product, add it to the cart, come back here, and watch them change.' })
      ]),
      placement(h('div', { 'data-recs-placement': 'home' }), 'Home placement: modules for_you, trending, recently_viewed')
    ]);
  }

  function product(id) {
    show('Product', [h('p', { class: 'muted', text: 'Loading…' })]);
    getItem(id).then(function (it) {
      var added = h('p', { class: 'added', role: 'status' });
      var buy = h('button', {
        type: 'button', class: 'buy', text: it.stock > 0 ? 'Add to cart' : 'Out of stock',
        onclick: function () {
          addToCart(it);
          added.replaceChildren('Added. ', h('a', { href: '/demo/cart', text: 'Go to the cart' }));
        }
      });
      if (!(it.stock > 0)) buy.disabled = true;
      var attrs = Object.keys(it.attributes || {}).map(function (k) { return h('li', { text: k + ': ' + it.attributes[k] }); });
      show(it.title, [
        h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb', text: ['Home'].concat(it.category || []).join(' › ') }),
        h('article', { class: 'product' }, [
          h('div', { class: 'photo', 'aria-hidden': 'true', text: it.title.charAt(0) }),
          h('div', { class: 'details' }, [
            h('h1', { text: it.title }),
            h('p', { class: 'brand', text: it.brand || '' }),
            h('p', { class: 'price', text: money(it.price, it.currency) }),
            h('p', { class: 'muted', text: it.stock > 0 ? (it.stock < 5 ? 'Only ' + it.stock + ' left' : 'In stock') : 'Out of stock' }),
            buy, added,
            h('p', { text: it.description || '' }),
            attrs.length ? h('ul', { class: 'attrs' }, attrs) : null
          ])
        ]),
        placement(h('div', { 'data-recs-placement': 'pdp', 'data-recs-item-id': it.id, 'data-recs-item-title': it.title }),
          'Product placement: modules similar, bought_together')
      ]);
    }).catch(function () {
      show('Not found', [h('h1', { text: 'No such product' }), h('p', {}, [h('a', { href: '/demo', text: 'Back to the shop' })])]);
    });
  }

  function cartPage() {
    var box = h('div', { 'data-recs-placement': 'cart', 'data-recs-item-ids': cart.map(function (l) { return l.id; }).join(',') });
    var list = h('ul', { class: 'cart' });
    var total = h('p', { class: 'total' });
    function draw() {
      box.setAttribute('data-recs-item-ids', cart.map(function (l) { return l.id; }).join(','));
      if (!cart.length) {
        list.replaceChildren(h('li', { class: 'muted', text: 'Your cart is empty. Open a product and add it.' }));
        total.textContent = '';
        return;
      }
      Promise.all(cart.map(function (l) { return getItem(l.id).catch(function () { return null; }); })).then(function (its) {
        var sum = 0;
        list.replaceChildren.apply(list, cart.map(function (l, i) {
          var it = its[i] || { id: l.id, title: l.id, price: 0 };
          sum += it.price * l.qty;
          return h('li', {}, [
            h('a', { href: '/demo/item/' + encodeURIComponent(it.id), text: it.title }),
            h('span', { text: ' × ' + l.qty + '  ' + money(it.price * l.qty, it.currency) + ' ' }),
            h('button', { type: 'button', class: 'secondary', 'aria-label': 'Remove ' + it.title, text: 'Remove',
              onclick: function () { removeFromCart(l.id); draw(); } })
          ]);
        }));
        total.textContent = 'Total ' + money(sum, 'EUR');
      });
    }
    show('Cart', [h('h1', { text: 'Your cart' }), list, total,
      placement(box, 'Cart placement: module cross_sell (never an item already in the cart)')]);
    draw();
  }

  function route() {
    var p = location.pathname.replace(/\/+$/, '');
    if (p === '/demo') home();
    else if (p.indexOf('/demo/item/') === 0) product(decodeURIComponent(p.slice('/demo/item/'.length)));
    else if (p === '/demo/cart') cartPage();
    else show('Not found', [h('h1', { text: 'No such page' }), h('p', {}, [h('a', { href: '/demo', text: 'Back to the shop' })])]);
  }

  // Links inside the demo change the page in place, so the cart can stay in
  // memory when there is no consent to store it.
  document.addEventListener('click', function (e) {
    var a = e.target.closest && e.target.closest('a[href]');
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    var u = new URL(a.href, location.href);
    if (u.origin !== location.origin || u.pathname.indexOf('/demo') !== 0) return;
    e.preventDefault();
    history.pushState(null, '', u.pathname + u.search + u.hash);
    route();
    window.scrollTo(0, 0);
    app.focus({ preventScroll: true });
  });
  window.addEventListener('popstate', route);

  setConsent(consent, false);
  banner.hidden = consent;
  saveCart();
  route();
})();
