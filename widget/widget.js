/*! recs widget: recommendations on any page, no build step, no dependencies.
 *
 *   <div data-recs-placement="pdp" data-recs-item-id="SKU1"></div>
 *   <script src="https://recs.example/widget.js" async></script>
 *
 * Options, the JS API, the CSS custom properties and the events it sends:
 * the "Widget" section of the recs README. Nothing here may throw into the
 * host page: a failed, slow or empty answer renders nothing.
 */
(function (w, d) {
  'use strict';
  if (w.Recs && w.Recs.version) return; // included twice: the first copy stays in charge

  var script = d.currentScript;
  var attr = function (el, name) { return el ? el.getAttribute(name) : null; };
  var origin = location.origin;
  try { if (script && script.src) origin = new URL(script.src).origin; } catch (e) { /* keep the page's */ }

  var STORE_KEY = 'recs_aid'; // the anonymous id, in localStorage, only with consent
  var cfg = {
    endpoint: attr(script, 'data-recs-endpoint') || origin,
    apiKey: attr(script, 'data-recs-key') || '',
    consent: attr(script, 'data-recs-consent') === 'true',
    userId: attr(script, 'data-recs-user-id') || '',
    timeout: +attr(script, 'data-recs-timeout') || 2000,
    limit: 10,
    locale: d.documentElement.lang || navigator.language || 'en',
    auto: attr(script, 'data-recs-auto') !== 'false',
    titles: {
      similar: 'Similar items', bought_together: 'Frequently bought together',
      cross_sell: 'You may also like', for_you: 'Recommended for you',
      trending: 'Trending now', recently_viewed: 'Recently viewed'
    },
    // The first reason of an item found in this order is shown; {title} is
    // the item on the page (data-recs-item-title), or a generic phrase.
    reasons: {
      co_view: 'Because you viewed {title}',
      similar_content: 'Similar to {title}',
      co_purchase: 'Often bought with {title}',
      session_co_view: 'Because of what you viewed recently',
      session_co_purchase: 'Goes with what you viewed recently',
      session_vector: 'Based on what you viewed recently',
      recently_viewed: 'You viewed this recently',
      trending: 'Trending now',
      popular_today: 'Popular today',
      popular_in_category: 'Popular in this department',
      popular: 'Popular right now'
    },
    text: { prev: 'Previous items', next: 'Next items', thisItem: 'this item', cart: 'items in your cart' }
  };

  // ---- identity and consent -------------------------------------------
  var aid = '';

  function rand() {
    var b = new Uint8Array(12);
    (w.crypto || w.msCrypto).getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
  }

  function visitorId() {
    if (!cfg.consent) return '';
    if (!aid) {
      try {
        aid = localStorage.getItem(STORE_KEY) || '';
        if (!aid) localStorage.setItem(STORE_KEY, aid = 'a-' + rand());
      } catch (e) { aid = aid || 'a-' + rand(); } // storage blocked: this page only
    }
    return aid;
  }

  function forget() {
    aid = '';
    try { localStorage.removeItem(STORE_KEY); } catch (e) { /* nothing stored */ }
  }

  // visitor adds who is asking: the stored ids with consent, consent=false without.
  function visitor(set) {
    if (!cfg.consent) return set('consent', false);
    set('session_id', visitorId());
    if (cfg.userId) set('user_id', cfg.userId);
  }

  // ---- the API ----------------------------------------------------------
  function headers(h) {
    if (cfg.apiKey) h['X-Api-Key'] = cfg.apiKey;
    return h;
  }

  // recommend fetches a placement's modules: pdp {itemId}, cart {itemIds},
  // home {}. It resolves to the server's response and rejects on an error,
  // a non-2xx answer or the timeout.
  function recommend(placement, o) {
    o = o || {};
    var limit = o.limit || cfg.limit, url = cfg.endpoint + '/v1/recommendations/' + placement;
    var init = { headers: headers({}), credentials: 'omit' };
    if (placement === 'cart') {
      var body = { item_ids: o.itemIds || [], limit: limit };
      if (!body.item_ids.length) return Promise.resolve({ request_id: '', modules: [] });
      visitor(function (k, v) { body[k] = v; });
      init.method = 'POST';
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    } else if (placement === 'pdp' || placement === 'home') {
      var q = new URLSearchParams({ limit: limit });
      if (placement === 'pdp') q.set('item_id', o.itemId || '');
      visitor(function (k, v) { q.set(k, v); });
      url += '?' + q;
    } else {
      return Promise.reject(new Error('recs: unknown placement "' + placement + '"'));
    }
    var ctl = new AbortController();
    var timer = setTimeout(function () { ctl.abort(); }, o.timeout || cfg.timeout);
    init.signal = ctl.signal;
    return fetch(url, init).then(function (r) {
      if (!r.ok) throw new Error('recs: ' + placement + ' answered ' + r.status);
      return r.json();
    }).then(function (res) {
      if (!res || !Array.isArray(res.modules)) throw new Error('recs: malformed answer');
      return res;
    }).finally(function () { clearTimeout(timer); });
  }

  // track sends one event: items is an item id or [{item_id, quantity,
  // price}]; o.requestId attributes it to a recommendation response.
  function track(type, items, o) {
    o = o || {};
    var ev = {
      event_id: o.eventId || 'w-' + rand(), type: type, time: new Date().toISOString(),
      items: typeof items === 'string' ? [{ item_id: items }] : items || [],
      channel: 'web', device: w.matchMedia && w.matchMedia('(max-width: 640px)').matches ? 'mobile' : 'desktop'
    };
    if (o.requestId) ev.request_id = o.requestId;
    if (o.orderId) ev.order_id = o.orderId;
    visitor(function (k, v) { ev[k] = v; }); // without consent: no ids at all
    var body = JSON.stringify(ev), url = cfg.endpoint + '/v1/events';
    try {
      // A beacon survives the navigation a click starts; it cannot carry
      // headers, so the key goes in the query, and text/plain needs no
      // CORS preflight.
      var beacon = url + (cfg.apiKey ? '?api_key=' + encodeURIComponent(cfg.apiKey) : '');
      if (!(navigator.sendBeacon && navigator.sendBeacon(beacon, new Blob([body], { type: 'text/plain;charset=UTF-8' })))) {
        fetch(url, { method: 'POST', body: body, keepalive: true, credentials: 'omit', headers: headers({ 'Content-Type': 'text/plain;charset=UTF-8' }) })
          .catch(function () { /* lost: never the page's problem */ });
      }
    } catch (e) { /* likewise */ }
    return ev;
  }

  // A click on a recommendation is the view of the item it leads to. Its
  // event id is derived from the response and the item, so the view the
  // landing page's widget reports (it reads #recs-rid=...) is stored once.
  function clickEventId(rid, itemId) {
    return 'c-' + rid + '-' + hash(itemId).toString(16); // short, whatever the item id's length
  }

  function hash(s) { // FNV-1a, 32 bits
    var h = 0x811c9dc5;
    for (var i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    return h >>> 0;
  }

  // takeLandingRid returns the request id a click on a recommendation
  // carried to this page (#recs-rid=...), once: it removes it from the URL.
  function takeLandingRid() {
    var m = /^#recs-rid=([\w-]{1,64})$/.exec(location.hash);
    if (!m) return '';
    try { history.replaceState(history.state, '', location.pathname + location.search); } catch (e) { /* keep the hash */ }
    return m[1];
  }

  // ---- rendering ----------------------------------------------------------
  function el(tag, cls, text) {
    var e = d.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  // Only http(s) and relative URLs from the catalogue become links or images.
  function safeURL(u) {
    if (!u) return '';
    try { return /^https?:$/.test(new URL(u, location.href).protocol) ? u : ''; } catch (e) { return ''; }
  }

  function price(p, cur) {
    if (!(p > 0)) return '';
    try { if (cur) return new Intl.NumberFormat(cfg.locale, { style: 'currency', currency: cur }).format(p); } catch (e) { /* unknown code */ }
    return p.toFixed(2) + (cur ? ' ' + cur : '');
  }

  function reasonText(item, anchorTitle) {
    var rs = item.reasons || [];
    for (var k in cfg.reasons) {
      if (rs.indexOf(k) >= 0) return cfg.reasons[k].replace('{title}', anchorTitle || cfg.text.thisItem);
    }
    return '';
  }

  var uid = 0;
  function carousel(m, rid, anchorTitle) {
    var id = 'recs-' + ++uid;
    var sec = el('section', 'recs-module');
    sec.setAttribute('aria-labelledby', id);
    sec.setAttribute('aria-roledescription', 'carousel');
    sec.setAttribute('data-recs-module', m.id);
    var title = el('h2', 'recs-title', cfg.titles[m.id] || m.id);
    title.id = id;
    var list = el('ul', 'recs-track');
    list.setAttribute('role', 'list'); // list-style: none drops the role in Safari
    var head = el('div', 'recs-head');
    head.appendChild(title);
    var nav = [-1, 1].map(function (dir) {
      var b = el('button', dir < 0 ? 'recs-prev' : 'recs-next', dir < 0 ? '\u2039' : '\u203a');
      b.type = 'button';
      b.setAttribute('aria-label', dir < 0 ? cfg.text.prev : cfg.text.next);
      b.addEventListener('click', function () { list.scrollBy({ left: dir * list.clientWidth * 0.9, behavior: 'smooth' }); });
      head.appendChild(b);
      return b;
    });
    var sync = function () {
      nav[0].disabled = list.scrollLeft <= 1;
      nav[1].disabled = list.scrollLeft + list.clientWidth >= list.scrollWidth - 1;
    };
    list.addEventListener('scroll', sync, { passive: true });
    setTimeout(sync, 0);
    m.items.forEach(function (it, i) { list.appendChild(card(it, i, m, rid, anchorTitle)); });
    list.addEventListener('keydown', onKey);
    list.addEventListener('focusin', function (e) { rove(list, e.target); });
    sec.appendChild(head);
    sec.appendChild(list);
    return sec;
  }

  function card(it, i, m, rid, anchorTitle) {
    var li = el('li', 'recs-card');
    var a = el('a', 'recs-link');
    var href = safeURL(it.url);
    if (href) a.href = href + (rid && href.indexOf('#') < 0 ? '#recs-rid=' + rid : '');
    a.tabIndex = i ? -1 : 0; // one stop in the tab order; arrow keys move within
    a.setAttribute('data-recs-item', it.item_id);
    var pic = el('div', 'recs-img'), name = el('span', 'recs-name', it.title || it.item_id);
    var src = safeURL(it.image_url);
    if (src) {
      var img = el('img');
      img.src = src;
      img.alt = it.title || '';
      img.loading = 'lazy';
      img.decoding = 'async';
      pic.appendChild(img);
      name.setAttribute('aria-hidden', 'true'); // the alt text already names the link
    } else {
      pic.className += ' recs-noimg';
      pic.setAttribute('aria-hidden', 'true');
      pic.textContent = (it.title || it.item_id || '?').charAt(0).toUpperCase();
      pic.style.setProperty('--recs-hue', hash(it.item_id || '') % 360);
    }
    a.appendChild(pic);
    a.appendChild(name);
    var p = price(it.price, it.currency), why = reasonText(it, anchorTitle);
    if (p) a.appendChild(el('span', 'recs-price', p));
    if (why) a.appendChild(el('span', 'recs-reason', why));
    a.addEventListener('click', function () {
      try {
        track('view_item', [{ item_id: it.item_id, price: it.price > 0 ? it.price : undefined }],
          { requestId: rid, eventId: rid ? clickEventId(rid, it.item_id) : '' });
        a.dispatchEvent(new CustomEvent('recs:click', { bubbles: true, detail: { item: it, module: m.id, requestId: rid } }));
      } catch (e) { /* the link still works */ }
    });
    li.appendChild(a);
    return li;
  }

  function rove(list, target) {
    if (!target.classList || !target.classList.contains('recs-link')) return;
    list.querySelectorAll('.recs-link').forEach(function (a) { a.tabIndex = a === target ? 0 : -1; });
  }

  // Arrow keys, Home and End move between the cards of one carousel.
  function onKey(e) {
    var links = Array.prototype.slice.call(this.querySelectorAll('.recs-link'));
    var i = links.indexOf(d.activeElement);
    if (i < 0) return;
    var step = getComputedStyle(this).direction === 'rtl' ? -1 : 1;
    var j = { ArrowRight: i + step, ArrowLeft: i - step, Home: 0, End: links.length - 1 }[e.key];
    if (j === undefined) return;
    e.preventDefault();
    var to = links[Math.max(0, Math.min(links.length - 1, j))];
    rove(this, to);
    to.focus({ preventScroll: true });
    to.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }

  var CSS = '.recs-widget{font-family:var(--recs-font,inherit);color:var(--recs-color,inherit)}' +
    '.recs-module{margin:var(--recs-module-margin,16px 0)}' +
    '.recs-head{display:flex;align-items:center;gap:8px;margin-bottom:4px}' +
    '.recs-title{flex:1;margin:0;font-size:var(--recs-title-size,1.15rem);font-weight:600}' +
    '.recs-prev,.recs-next{width:32px;height:32px;padding:0;border-radius:50%;border:1px solid var(--recs-border,#d5d9de);background:var(--recs-bg,#fff);color:inherit;font-size:20px;line-height:1;cursor:pointer}' +
    '.recs-prev:disabled,.recs-next:disabled{opacity:.35;cursor:default}' +
    '.recs-track{display:flex;gap:var(--recs-gap,12px);overflow-x:auto;scroll-snap-type:x mandatory;overscroll-behavior-x:contain;list-style:none;margin:0;padding:6px 4px 10px;scroll-padding:0 4px;scrollbar-width:thin}' +
    '.recs-card{flex:0 0 var(--recs-card-width,172px);min-width:0;scroll-snap-align:start}' +
    '.recs-link{display:flex;flex-direction:column;gap:4px;height:100%;box-sizing:border-box;padding:8px;border:1px solid var(--recs-border,#e3e6ea);border-radius:var(--recs-radius,8px);background:var(--recs-bg,#fff);color:inherit;text-decoration:none}' +
    '.recs-link:hover{border-color:var(--recs-accent,#0b5fff)}' +
    '.recs-link:focus-visible{outline:3px solid var(--recs-focus,var(--recs-accent,#0b5fff));outline-offset:1px}' +
    '.recs-img{aspect-ratio:var(--recs-image-ratio,1);display:flex;align-items:center;justify-content:center;overflow:hidden;border-radius:calc(var(--recs-radius,8px) - 3px);background:var(--recs-image-bg,#eef1f4);color:var(--recs-muted,#5f6b7a);font-size:2rem;font-weight:600}' +
    '.recs-img img{width:100%;height:100%;object-fit:cover}' +
    '.recs-noimg{background:hsl(var(--recs-hue,210) 40% 92%);color:hsl(var(--recs-hue,210) 35% 35%)}' +
    '.recs-name{font-size:.92em;line-height:1.3;display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden}' +
    '.recs-price{font-weight:600;color:var(--recs-price-color,inherit)}' +
    '.recs-reason{font-size:.8em;line-height:1.3;color:var(--recs-muted,#5f6b7a);display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden}' +
    '@media (max-width:480px){.recs-card{flex-basis:var(--recs-card-width-mobile,42vw)}.recs-prev,.recs-next{display:none}}';

  function injectCSS() {
    if (d.getElementById('recs-style')) return;
    var s = el('style');
    s.id = 'recs-style';
    s.textContent = CSS;
    // First in <head>, so the shop's own stylesheets win at equal specificity.
    var head = d.head || d.documentElement;
    head.insertBefore(s, head.firstChild);
  }

  function ids(s) {
    return (s || '').split(',').map(function (x) { return x.trim(); }).filter(Boolean);
  }

  var gen = new WeakMap();    // placement -> render number: a late answer never replaces a newer one
  var viewed = new WeakMap(); // placement -> item whose view was sent

  function clear(box, state) {
    Array.prototype.forEach.call(box.querySelectorAll(':scope > .recs-widget'), function (n) { n.remove(); });
    box.setAttribute('data-recs-state', state);
  }

  // render fills one placement element. It only ever adds or removes its
  // own .recs-widget child; the host's nodes are left alone.
  function render(box) {
    var n = (gen.get(box) || 0) + 1;
    gen.set(box, n);
    var placement = attr(box, 'data-recs-placement'), itemId = attr(box, 'data-recs-item-id') || '';
    box.setAttribute('data-recs-state', 'loading');
    if (placement === 'pdp' && itemId && viewed.get(box) !== itemId && attr(box, 'data-recs-track') !== 'false') {
      viewed.set(box, itemId);
      var rid = takeLandingRid();
      track('view_item', itemId, rid ? { requestId: rid, eventId: clickEventId(rid, itemId) } : {});
    }
    var anchorTitle = placement === 'cart' ? cfg.text.cart : attr(box, 'data-recs-item-title');
    var only = ids(attr(box, 'data-recs-modules'));
    return recommend(placement, {
      itemId: itemId, itemIds: ids(attr(box, 'data-recs-item-ids')), limit: +attr(box, 'data-recs-limit') || 0
    }).then(function (res) {
      if (gen.get(box) !== n) return;
      var mods = res.modules.filter(function (m) {
        return m && Array.isArray(m.items) && m.items.length && (!only.length || only.indexOf(m.id) >= 0);
      });
      clear(box, mods.length ? 'ready' : 'empty');
      if (!mods.length) return;
      injectCSS();
      var root = el('div', 'recs-widget');
      mods.forEach(function (m) { root.appendChild(carousel(m, res.request_id, anchorTitle)); });
      box.setAttribute('data-recs-request-id', res.request_id);
      box.appendChild(root);
    }).catch(function () {
      if (gen.get(box) === n) clear(box, 'error');
    });
  }

  var pending = new Set(), flushing = false;
  function schedule(box) {
    pending.add(box);
    if (flushing) return;
    flushing = true;
    setTimeout(function () {
      flushing = false;
      var boxes = Array.from(pending);
      pending.clear();
      boxes.forEach(function (b) { try { if (b.isConnected) render(b); } catch (e) { /* next one */ } });
    }, 0);
  }

  function refresh() {
    d.querySelectorAll('[data-recs-placement]').forEach(schedule);
  }

  var started = false;
  function start() {
    if (started) return;
    started = true;
    refresh();
    // Placements added later (single-page shops) and changed inputs (a
    // cart that grows) render again by themselves.
    new MutationObserver(function (records) {
      records.forEach(function (r) {
        if (r.type === 'attributes') return schedule(r.target);
        r.addedNodes.forEach(function (n) {
          if (n.nodeType !== 1) return;
          if (n.hasAttribute('data-recs-placement')) schedule(n);
          if (n.firstElementChild) n.querySelectorAll('[data-recs-placement]').forEach(schedule);
        });
      });
    }).observe(d.documentElement, {
      subtree: true, childList: true, attributes: true,
      attributeFilter: ['data-recs-placement', 'data-recs-item-id', 'data-recs-item-ids', 'data-recs-limit', 'data-recs-modules']
    });
  }

  function setConsent(on) {
    on = !!on;
    if (on === cfg.consent) return;
    cfg.consent = on;
    if (!on) forget();
    if (started) refresh();
  }

  function init(o) {
    o = o || {};
    ['endpoint', 'apiKey', 'userId', 'timeout', 'limit', 'locale'].forEach(function (k) { if (o[k] !== undefined) cfg[k] = o[k]; });
    ['titles', 'reasons', 'text'].forEach(function (k) { if (o[k]) Object.assign(cfg[k], o[k]); });
    if (o.consent !== undefined) setConsent(o.consent);
    if (started) refresh();
  }

  w.Recs = {
    version: '1',
    init: init,
    setConsent: setConsent,
    hasConsent: function () { return cfg.consent; },
    recommend: recommend,
    track: track,
    reasonText: reasonText,
    render: function (box) { schedule(box); },
    refresh: refresh,
    start: start
  };
  try {
    if (w.RecsConfig) init(w.RecsConfig);
    if (cfg.auto) {
      if (d.readyState === 'loading') d.addEventListener('DOMContentLoaded', start);
      else start();
    }
  } catch (e) { /* never the page's problem */ }
})(window, document);
