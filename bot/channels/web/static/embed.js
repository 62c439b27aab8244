/*
 * Семейное окно — website embed.
 *
 *   <script src="https://bot.example.org/static/embed.js" data-title="Семейное окно" async></script>
 *
 * Adds a round chat button (bottom-right) that opens the web chat in an iframe
 * panel served from the script's own origin (/?embed=1). Optional attributes:
 *   data-title     — accessible name of the button and the panel;
 *   data-exit-url  — neutral site for «Быстрый выход» before the chat has loaded.
 * Any element of the host page with a data-fw-open attribute opens the chat on click
 * (e.g. a «Написать нам» link), so the host page needs no script of its own.
 *
 * No cookies, no storage on the host page, no third-party requests. The only
 * global is window.FamilyWindow = { open(), close(), toggle() }.
 * Styles live in a shadow root, so the host site's CSS cannot break the widget
 * and ours cannot leak into the host site.
 */
(function () {
  'use strict';

  if (window.FamilyWindow && window.FamilyWindow.version) return; // included twice

  var script = document.currentScript;
  if (!script || !script.src) return;

  var chatOrigin;
  try {
    chatOrigin = new URL(script.src, location.href).origin;
  } catch (e) {
    return;
  }
  if (!/^https?:/.test(chatOrigin)) return;

  var DEFAULT_EXIT_URL = 'https://yandex.ru/pogoda';
  var ESC_WINDOW_MS = 700;
  var title = (script.getAttribute('data-title') || '').trim() || 'Семейное окно';
  var hostLang = (document.documentElement.getAttribute('lang') || navigator.language || 'ru').toLowerCase();
  var T = hostLang.indexOf('en') === 0
    ? { open: 'Open chat “' + title + '”', close: 'Close chat', loading: 'Loading…' }
    : { open: 'Открыть чат «' + title + '»', close: 'Закрыть чат', loading: 'Загрузка…' };

  function httpUrl(value) {
    if (typeof value !== 'string' || !value.trim()) return null;
    try {
      var u = new URL(value.trim(), location.href);
      if (u.protocol === 'https:' || u.protocol === 'http:') return u.href;
    } catch (e) { /* not a URL */ }
    return null;
  }

  var exitUrl = httpUrl(script.getAttribute('data-exit-url')) || DEFAULT_EXIT_URL;

  var CSS = [
    ':host { all: initial; }',
    '*, *::before, *::after { box-sizing: border-box; }',
    '[hidden] { display: none !important; }',
    '.launcher {',
    '  position: fixed; z-index: 2147483000;',
    '  right: max(20px, env(safe-area-inset-right)); bottom: max(20px, env(safe-area-inset-bottom));',
    '  width: 60px; height: 60px; margin: 0; padding: 0; border: 0; border-radius: 50%;',
    '  display: flex; align-items: center; justify-content: center;',
    '  background: #1f6b66; color: #fff; cursor: pointer;',
    '  box-shadow: 0 4px 14px rgba(0,0,0,.22), 0 1px 3px rgba(0,0,0,.18);',
    '  transition: transform .15s ease, background-color .15s ease;',
    '  -webkit-tap-highlight-color: transparent;',
    '}',
    '.launcher:hover { background: #185753; transform: translateY(-1px); }',
    '.launcher:focus:not(:focus-visible) { outline: none; }',
    '.launcher:focus-visible { outline: 3px solid #1a4fb0; outline-offset: 3px; }',
    '.launcher svg { display: block; pointer-events: none; }',
    '.launcher .icon-close { display: none; }',
    '.launcher.is-open .icon-chat { display: none; }',
    '.launcher.is-open .icon-close { display: block; }',
    '.panel {',
    '  position: fixed; z-index: 2147483001;',
    '  right: max(20px, env(safe-area-inset-right)); bottom: calc(max(20px, env(safe-area-inset-bottom)) + 72px);',
    '  width: 400px; max-width: calc(100vw - 40px);',
    '  height: 640px; max-height: calc(100vh - 120px); max-height: calc(100dvh - 120px);',
    '  border-radius: 16px; overflow: hidden; background: #f6f3ee;',
    '  box-shadow: 0 12px 48px rgba(0,0,0,.28), 0 2px 8px rgba(0,0,0,.12);',
    '}',
    '.panel iframe { display: block; width: 100%; height: 100%; border: 0; background: transparent; }',
    '.loading { position: absolute; top: 0; right: 0; bottom: 0; left: 0; display: flex; align-items: center; justify-content: center;',
    '  font: 16px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color: #56606a; }',
    '.close {',
    '  position: absolute; top: 6px; right: 6px; width: 44px; height: 44px; margin: 0; padding: 0;',
    '  display: flex; align-items: center; justify-content: center;',
    '  border: 0; border-radius: 50%; background: transparent; color: #1d2327; cursor: pointer;',
    '}',
    '.close:hover { background: rgba(0,0,0,.07); }',
    '.close:focus:not(:focus-visible) { outline: none; }',
    '.close:focus-visible { outline: 3px solid #1a4fb0; outline-offset: -3px; }',
    '@media (prefers-color-scheme: dark) {',
    '  .panel { background: #161b1e; }',
    '  .close { color: #e8ecee; }',
    '  .close:hover { background: rgba(255,255,255,.1); }',
    '  .loading { color: #a9b3ba; }',
    '  .launcher { background: #287a73; }',
    '  .launcher:focus-visible, .close:focus-visible { outline-color: #8ab4ff; }',
    '}',
    '@media (max-width: 480px), (max-height: 520px) {',
    '  .panel { top: 0; right: 0; bottom: 0; left: 0; width: 100%; height: 100%;',
    '    max-width: none; max-height: none; border-radius: 0; }',
    '  .launcher.is-open { display: none; }',
    '}',
    '@media (prefers-reduced-motion: reduce) { .launcher { transition: none; } .launcher:hover { transform: none; } }',
    '@media (forced-colors: active) { .launcher, .close { border: 2px solid ButtonText; } }',
    '@media print { .launcher, .panel { display: none !important; } }'
  ].join('\n');

  var SVG_NS = 'http://www.w3.org/2000/svg';

  function icon(className, paths, size) {
    var svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('class', className);
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', String(size));
    svg.setAttribute('height', String(size));
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    paths.forEach(function (p) {
      var path = document.createElementNS(SVG_NS, 'path');
      path.setAttribute('d', p.d);
      path.setAttribute('fill', p.fill ? 'currentColor' : 'none');
      if (!p.fill) {
        path.setAttribute('stroke', 'currentColor');
        path.setAttribute('stroke-width', '2');
        path.setAttribute('stroke-linecap', 'round');
        path.setAttribute('stroke-linejoin', 'round');
      }
      svg.appendChild(path);
    });
    return svg;
  }

  var host = null;
  var launcher = null;
  var panel = null;
  var loading = null;
  var iframe = null;
  var frameReady = false;
  var isOpen = false;
  var lastEscAt = 0;
  var lastEscWasChat = false;
  var savedOverflow = null;

  function isSmallScreen() {
    try {
      return window.matchMedia('(max-width: 480px), (max-height: 520px)').matches;
    } catch (e) { return false; }
  }

  function mount() {
    if (host || !document.body) return !!host;
    host = document.createElement('div');
    host.setAttribute('data-family-window', '');
    var shadow;
    try {
      shadow = host.attachShadow({ mode: 'open' });
    } catch (e) {
      host = null;
      return false;
    }

    var sheetAdopted = false;
    try {
      if ('adoptedStyleSheets' in shadow && typeof CSSStyleSheet === 'function') {
        var sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS); // not subject to the host page's style-src CSP
        shadow.adoptedStyleSheets = [sheet];
        sheetAdopted = true;
      }
    } catch (e) { sheetAdopted = false; }
    if (!sheetAdopted) {
      var style = document.createElement('style');
      style.textContent = CSS;
      shadow.appendChild(style);
    }

    launcher = document.createElement('button');
    launcher.type = 'button';
    launcher.className = 'launcher';
    launcher.setAttribute('aria-label', T.open);
    launcher.setAttribute('aria-expanded', 'false');
    launcher.setAttribute('aria-controls', 'fw-panel');
    launcher.title = title;
    launcher.appendChild(icon('icon-chat', [
      { d: 'M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10l-4.2 3.6c-.5.4-1.3.1-1.3-.6V16A2.5 2.5 0 0 1 4 13.5z', fill: true }
    ], 28));
    launcher.appendChild(icon('icon-close', [{ d: 'M6 6l12 12M18 6 6 18' }], 26));
    launcher.addEventListener('click', toggle);

    panel = document.createElement('div');
    panel.className = 'panel';
    panel.id = 'fw-panel';
    panel.setAttribute('role', 'dialog');
    panel.setAttribute('aria-label', title);
    panel.hidden = true;

    loading = document.createElement('div');
    loading.className = 'loading';
    loading.textContent = T.loading;
    panel.appendChild(loading);

    var closeBtn = document.createElement('button');
    closeBtn.type = 'button';
    closeBtn.className = 'close';
    closeBtn.setAttribute('aria-label', T.close);
    closeBtn.title = T.close;
    closeBtn.appendChild(icon('icon-x', [{ d: 'M6 6l12 12M18 6 6 18' }], 22));
    closeBtn.addEventListener('click', function () { close(); });
    panel.appendChild(closeBtn);

    shadow.appendChild(panel);
    shadow.appendChild(launcher);
    document.body.appendChild(host);
    return true;
  }

  function createFrame() {
    iframe = document.createElement('iframe');
    iframe.src = chatOrigin + '/?embed=1';
    iframe.title = title;
    iframe.referrerPolicy = 'no-referrer';
    iframe.addEventListener('load', function () {
      if (loading) loading.hidden = true;
    });
    panel.insertBefore(iframe, panel.firstChild);
  }

  function postToFrame(msg) {
    if (!iframe || !iframe.contentWindow) return;
    msg.source = 'family-window-embed';
    try { iframe.contentWindow.postMessage(msg, chatOrigin); } catch (e) { /* not loaded yet */ }
  }

  function lockHostScroll(lock) {
    var el = document.documentElement;
    if (lock && savedOverflow === null) {
      savedOverflow = el.style.overflow;
      el.style.overflow = 'hidden';
    } else if (!lock && savedOverflow !== null) {
      el.style.overflow = savedOverflow;
      savedOverflow = null;
    }
  }

  function open() {
    if (!mount() || isOpen) return;
    if (!iframe) createFrame();
    isOpen = true;
    panel.hidden = false;
    launcher.classList.add('is-open');
    launcher.setAttribute('aria-expanded', 'true');
    launcher.setAttribute('aria-label', T.close);
    if (isSmallScreen()) lockHostScroll(true);
    try { iframe.focus(); } catch (e) { /* ignore */ }
    if (frameReady) postToFrame({ type: 'fw:focus' });
  }

  function close(keepFocus) {
    if (!host || !isOpen) return;
    isOpen = false;
    panel.hidden = true;
    launcher.classList.remove('is-open');
    launcher.setAttribute('aria-expanded', 'false');
    launcher.setAttribute('aria-label', T.open);
    lockHostScroll(false);
    if (!keepFocus) {
      try { launcher.focus(); } catch (e) { /* ignore */ }
    }
  }

  function toggle() {
    if (isOpen) close();
    else open();
  }

  function quickExit(url) {
    var target = httpUrl(url) || exitUrl;
    lockHostScroll(false);
    if (host && host.parentNode) host.parentNode.removeChild(host);
    host = null;
    iframe = null;
    try {
      document.title = '';
      document.documentElement.style.visibility = 'hidden';
    } catch (e) { /* ignore */ }
    location.replace(target);
  }

  /** Esc closes the panel; a second Esc right after it is the quick exit. */
  function onEscape(fromChat) {
    var now = Date.now();
    if (now - lastEscAt <= ESC_WINDOW_MS && (lastEscWasChat || fromChat)) {
      quickExit();
      return;
    }
    lastEscAt = now;
    lastEscWasChat = isOpen || fromChat;
    if (isOpen) close();
  }

  document.addEventListener('keydown', function (event) {
    if (event.key !== 'Escape' && event.key !== 'Esc') return;
    var recent = Date.now() - lastEscAt <= ESC_WINDOW_MS && lastEscWasChat;
    if (!isOpen && !recent) return; // leave the host page's own Esc alone
    onEscape(false);
  }, true);

  window.addEventListener('message', function (event) {
    if (!iframe || event.source !== iframe.contentWindow || event.origin !== chatOrigin) return;
    var data = event.data;
    if (!data || typeof data !== 'object' || data.source !== 'family-window') return;
    switch (data.type) {
      case 'fw:ready':
        frameReady = true;
        exitUrl = httpUrl(data.exitUrl) || exitUrl;
        if (loading) loading.hidden = true;
        if (isOpen) postToFrame({ type: 'fw:focus' });
        break;
      case 'fw:escape':
        onEscape(true);
        break;
      case 'fw:exit':
        postToFrame({ type: 'fw:exit-ack' });
        quickExit(data.url);
        break;
      default:
        break;
    }
  });

  document.addEventListener('click', function (event) {
    var target = event.target;
    if (!target || typeof target.closest !== 'function') return;
    var opener = target.closest('[data-fw-open]');
    if (!opener) return;
    event.preventDefault();
    open();
  });

  window.FamilyWindow = Object.freeze({
    version: '1',
    open: function () { open(); },
    close: function () { close(); },
    toggle: function () { toggle(); }
  });

  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount, { once: true });
})();
