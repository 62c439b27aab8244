/*
 * Семейное окно — web chat client.
 *
 * Plain ES2020, no dependencies, no third-party requests, no analytics.
 * Privacy: only the chat token is stored (localStorage "fw.token"); message
 * content lives in the DOM only and is never written to any storage.
 * Server text is never parsed as HTML: every node is built with textContent.
 */
(function () {
  'use strict';

  var TOKEN_KEY = 'fw.token';
  var MAX_LEN = 4000;
  var COUNTER_FROM = 3500;
  var DEFAULT_EXIT_URL = 'https://yandex.ru/pogoda';
  var REQUEST_TIMEOUT_MS = 30000;
  var POLL_TIMEOUT_MS = 40000; // server holds a poll for ≤ 25 s
  var POLL_BACKOFF_MS = [1000, 2000, 5000, 10000, 20000, 30000];
  var DEFAULT_RETRY_AFTER_S = 5;
  var ESC_WINDOW_MS = 700;
  var EXIT_ACK_WAIT_MS = 250;
  var NEAR_BOTTOM_PX = 80;

  var STRINGS = {
    ru: {
      docTitle: 'Семейное окно',
      title: 'Семейное окно',
      subtitle: 'Семейный ресурсный центр',
      quickExit: 'Быстрый выход',
      quickExitTitle: 'Быстрый выход: чат сразу закроется и откроется нейтральный сайт (погода). ' +
        'То же самое — если дважды быстро нажать Esc.',
      quickExitHint: 'Чат сразу закроется и откроется нейтральный сайт. Можно дважды нажать Esc.',
      log: 'Переписка',
      inputLabel: 'Сообщение',
      placeholder: 'Напишите сообщение…',
      send: 'Отправить',
      typing: 'Печатает…',
      newMessages: 'Новые сообщения ↓',
      consultant: 'Консультант',
      urgent: 'Важно',
      buttonsGroup: 'Варианты ответа',
      newTab: 'откроется в новой вкладке',
      image: 'Изображение к сообщению',
      sending: 'Отправляется…',
      notSent: 'Не отправлено',
      retry: 'Повторить',
      wait: 'Подождите немного…',
      waitCountdown: function (s) { return 'Можно будет отправить через ' + s + ' с.'; },
      offline: 'Не получилось отправить: похоже, пропала связь. Сообщение сохранено — можно повторить.',
      serverError: 'Что-то пошло не так с нашей стороны. Сообщение сохранено — попробуйте ещё раз.',
      startFailed: 'Не получается подключиться к чату. Проверьте интернет и попробуйте ещё раз.',
      tooLong: 'Сообщение слишком длинное. Сократите его или отправьте частями.',
      counter: function (n) { return n + ' / ' + MAX_LEN; }
    },
    en: {
      docTitle: 'Family Window',
      title: 'Family Window',
      subtitle: 'Family Resource Centre',
      quickExit: 'Quick exit',
      quickExitTitle: 'Quick exit: the chat closes at once and a neutral website (weather) opens. ' +
        'Pressing Esc twice quickly does the same.',
      quickExitHint: 'The chat closes at once and a neutral website opens. You can also press Esc twice.',
      log: 'Conversation',
      inputLabel: 'Message',
      placeholder: 'Type a message…',
      send: 'Send',
      typing: 'Typing…',
      newMessages: 'New messages ↓',
      consultant: 'Consultant',
      urgent: 'Important',
      buttonsGroup: 'Reply options',
      newTab: 'opens in a new tab',
      image: 'Image attached to the message',
      sending: 'Sending…',
      notSent: 'Not sent',
      retry: 'Retry',
      wait: 'Please wait a moment…',
      waitCountdown: function (s) { return 'You can send again in ' + s + ' s.'; },
      offline: 'Could not send: the connection seems to be lost. Your message is kept — you can retry.',
      serverError: 'Something went wrong on our side. Your message is kept — please try again.',
      startFailed: 'Cannot connect to the chat. Please check your internet connection and try again.',
      tooLong: 'The message is too long. Please shorten it or send it in parts.',
      counter: function (n) { return n + ' / ' + MAX_LEN; }
    }
  };

  // ---------------------------------------------------------------- helpers

  function pickStrings(lang) {
    var base = String(lang || '').toLowerCase().split(/[-_]/)[0];
    return STRINGS[base] || STRINGS.ru;
  }

  function h(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  var SVG_NS = 'http://www.w3.org/2000/svg';

  function svgIcon(paths, size) {
    var svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', String(size || 18));
    svg.setAttribute('height', String(size || 18));
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    paths.forEach(function (d) {
      var p = document.createElementNS(SVG_NS, 'path');
      p.setAttribute('d', d.d);
      p.setAttribute('fill', d.fill || 'none');
      if (d.stroke) {
        p.setAttribute('stroke', 'currentColor');
        p.setAttribute('stroke-width', '2');
        p.setAttribute('stroke-linecap', 'round');
        p.setAttribute('stroke-linejoin', 'round');
      }
      svg.appendChild(p);
    });
    return svg;
  }

  function urgentIcon() {
    return svgIcon([
      { d: 'M12 3 2.5 20h19z', stroke: true },
      { d: 'M12 10v4.5', stroke: true },
      { d: 'M12 17.2v.1', stroke: true }
    ], 18);
  }

  function externalIcon() {
    return svgIcon([
      { d: 'M14 5h5v5', stroke: true },
      { d: 'M19 5l-8 8', stroke: true },
      { d: 'M17 14v4a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1V8a1 1 0 0 1 1-1h4', stroke: true }
    ], 16);
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function httpUrl(value) {
    if (typeof value !== 'string' || !value.trim()) return null;
    try {
      var u = new URL(value.trim(), location.href);
      if (u.protocol === 'https:' || u.protocol === 'http:') return u.href;
    } catch (e) { /* not a URL */ }
    return null;
  }

  function linkUrl(value) {
    if (typeof value !== 'string') return null;
    var v = value.trim();
    if (/^(tel|mailto):/i.test(v)) return v;
    return httpUrl(v);
  }

  /** Images only from our own origin (or inline data/blob): no third-party requests. */
  function imageUrl(value) {
    if (typeof value !== 'string' || !value) return null;
    if (/^data:image\/(png|jpe?g|gif|webp|svg\+xml)[;,]/i.test(value)) return value;
    try {
      var u = new URL(value, location.href);
      if (u.protocol === 'blob:' && value.indexOf('blob:' + location.origin) === 0) return value;
      if ((u.protocol === 'https:' || u.protocol === 'http:') && u.origin === location.origin) return u.href;
    } catch (e) { /* ignore */ }
    return null;
  }

  function plainText(text) {
    return String(text || '').replace(/\*\*(.+?)\*\*/g, '$1');
  }

  function storageGet() {
    try { return window.localStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }

  function storageSet(token) {
    try {
      if (token) window.localStorage.setItem(TOKEN_KEY, token);
      else window.localStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage disabled: keep the token in memory only */ }
  }

  function isTouchLike() {
    try {
      return window.matchMedia('(hover: none) and (pointer: coarse)').matches;
    } catch (e) { return false; }
  }

  function prefersReducedMotion() {
    try {
      return window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    } catch (e) { return false; }
  }

  // ------------------------------------------------------ rich text (safe)

  var URL_RE = /https?:\/\/[^\s<>"'«»]+/gi;
  // +7 / 8 followed by exactly 10 more digits with common separators, or a short emergency number.
  var PHONE_RE = /\+7(?:[ \u00a0\t()\-\u2010-\u2013]{0,3}\d){10}|8(?:[ \u00a0\t()\-\u2010-\u2013]{0,3}\d){10}|1(?:12|0[1-4])/g;
  var WORDISH = /[0-9A-Za-z\u00c0-\u024f\u0400-\u04ff_]/;

  function trimUrl(url) {
    var out = url;
    while (out.length && /[.,;:!?…)\]}]$/.test(out)) {
      var last = out.charAt(out.length - 1);
      if (last === ')' && count(out, '(') >= count(out, ')')) break;
      if (last === ']' && count(out, '[') >= count(out, ']')) break;
      out = out.slice(0, -1);
    }
    return out;
  }

  function count(str, ch) {
    return str.split(ch).length - 1;
  }

  function appendText(parent, text) {
    if (text) parent.appendChild(document.createTextNode(text));
  }

  /** Phone numbers → tel: links; everything else as text. */
  function appendPhones(parent, text) {
    var last = 0;
    var m;
    PHONE_RE.lastIndex = 0;
    while ((m = PHONE_RE.exec(text)) !== null) {
      var start = m.index;
      var end = start + m[0].length;
      var before = start > 0 ? text.charAt(start - 1) : '';
      var after = text.charAt(end);
      var after2 = text.charAt(end + 1);
      var isShort = m[0].length === 3;
      var ok = !WORDISH.test(before) && before !== '+' && !WORDISH.test(after);
      if (ok && isShort) {
        ok = !/[-\/.,:№#]/.test(before) &&
          !/[-\/]/.test(after) &&
          !(/[.,]/.test(after) && /\d/.test(after2));
      }
      if (!ok) {
        PHONE_RE.lastIndex = start + 1;
        continue;
      }
      appendText(parent, text.slice(last, start));
      var digits = m[0].replace(/\D/g, '');
      var href = 'tel:' + (m[0].charAt(0) === '+' ? '+' : '') + digits;
      var a = h('a', 'tel', m[0]);
      a.href = href;
      parent.appendChild(a);
      last = end;
    }
    appendText(parent, text.slice(last));
  }

  /** URLs → external links; the rest goes on to phone detection. */
  function appendLinks(parent, text) {
    var last = 0;
    var m;
    URL_RE.lastIndex = 0;
    while ((m = URL_RE.exec(text)) !== null) {
      var raw = trimUrl(m[0]);
      var href = httpUrl(raw);
      if (!href || raw.length < 10) continue;
      appendPhones(parent, text.slice(last, m.index));
      var a = h('a', 'ext', raw);
      a.href = href;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      a.setAttribute('aria-describedby', 'fw-newtab-hint');
      parent.appendChild(a);
      last = m.index + raw.length;
      URL_RE.lastIndex = last;
    }
    appendPhones(parent, text.slice(last));
  }

  /** **bold** spans (single line), then links. */
  function appendInline(parent, text) {
    var re = /\*\*(.+?)\*\*/g;
    var last = 0;
    var m;
    while ((m = re.exec(text)) !== null) {
      appendLinks(parent, text.slice(last, m.index));
      var strong = h('strong');
      appendLinks(strong, m[1]);
      parent.appendChild(strong);
      last = re.lastIndex;
    }
    appendLinks(parent, text.slice(last));
  }

  /** Paragraphs, line breaks and bullet lists ("- " / "• "). */
  function renderRichText(container, text) {
    var lines = String(text || '').replace(/\r\n?/g, '\n').split('\n');
    var p = null;
    var ul = null;
    lines.forEach(function (line) {
      var bullet = /^\s*[-•]\s+(.*)$/.exec(line);
      if (bullet) {
        p = null;
        if (!ul) {
          ul = h('ul');
          container.appendChild(ul);
        }
        var li = h('li');
        appendInline(li, bullet[1]);
        ul.appendChild(li);
        return;
      }
      ul = null;
      if (!line.trim()) {
        p = null;
        return;
      }
      if (!p) {
        p = h('p');
        container.appendChild(p);
      } else {
        p.appendChild(h('br'));
      }
      appendInline(p, line);
    });
  }

  // ------------------------------------------------------------- the app

  function init() {
    var params = new URLSearchParams(location.search);
    var embedMode = params.get('embed') === '1';
    var framed = window.parent !== window;
    var root = document.documentElement;
    if (embedMode) root.classList.add('embed');

    var $ = function (id) { return document.getElementById(id); };
    var els = {
      app: $('fw-app'),
      title: $('fw-title'),
      subtitle: $('fw-subtitle'),
      quickExit: $('fw-quick-exit'),
      quickExitLabel: $('fw-quick-exit-label'),
      quickExitHint: $('fw-quick-exit-hint'),
      scroller: $('fw-scroller'),
      messages: $('fw-messages'),
      typing: $('fw-typing'),
      typingLabel: $('fw-typing-label'),
      pill: $('fw-new-pill'),
      notices: $('fw-notices'),
      form: $('fw-composer'),
      input: $('fw-input'),
      inputLabel: $('fw-input-label'),
      counter: $('fw-counter'),
      send: $('fw-send'),
      liveAssertive: $('fw-live-assertive'),
      livePolite: $('fw-live-polite')
    };
    if (!els.app || !els.messages || !els.input) return;

    var newTabHint = h('span', 'visually-hidden');
    newTabHint.id = 'fw-newtab-hint';
    els.app.appendChild(newTabHint);

    var state = {
      token: null,
      language: root.lang || 'ru',
      cursor: null,
      starting: null,
      queue: [],
      sending: false,
      paused: false,
      blockedUntil: 0,
      blockTimer: 0,
      exited: false,
      escAt: 0,
      pollGen: 0,
      pollCtl: null,
      pollFailures: 0,
      notice: null,
      exitAck: null
    };
    var S = pickStrings(state.language);

    // ---------------------------------------------------------- chrome

    function exitUrl() {
      var meta = document.querySelector('meta[name="fw-exit-url"]');
      return httpUrl(meta && meta.getAttribute('content')) || DEFAULT_EXIT_URL;
    }

    function applyChrome() {
      document.title = S.docTitle;
      els.title.textContent = S.title;
      els.subtitle.textContent = S.subtitle;
      els.quickExitLabel.textContent = S.quickExit;
      els.quickExit.title = S.quickExitTitle;
      els.quickExitHint.textContent = S.quickExitHint;
      els.messages.setAttribute('aria-label', S.log);
      els.inputLabel.textContent = S.inputLabel;
      els.input.placeholder = S.placeholder;
      els.send.setAttribute('aria-label', S.send);
      els.send.title = S.send;
      els.typingLabel.textContent = S.typing;
      els.pill.textContent = S.newMessages;
      newTabHint.textContent = S.newTab;
      Array.prototype.forEach.call(
        els.messages.querySelectorAll('.msg__status'),
        function (node) {
          var msg = node.closest('.msg');
          node.textContent = msg && msg.classList.contains('msg--failed') ? S.notSent : S.sending;
        }
      );
      renderNotice();
      updateCounter();
    }

    function setLanguage(lang) {
      if (typeof lang !== 'string') return;
      var clean = lang.trim();
      if (!/^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$/.test(clean)) return;
      clean = clean.replace(/_/g, '-');
      if (clean === state.language && root.lang === clean) return;
      state.language = clean;
      root.lang = clean;
      S = pickStrings(clean);
      applyChrome();
      postToParent({ type: 'fw:language', language: clean });
    }

    // ---------------------------------------------------- embed bridge

    function postToParent(msg) {
      if (!framed) return;
      try {
        msg.source = 'family-window';
        window.parent.postMessage(msg, '*');
      } catch (e) { /* parent gone */ }
    }

    window.addEventListener('message', function (event) {
      if (!framed || event.source !== window.parent) return;
      var data = event.data;
      if (!data || typeof data !== 'object' || data.source !== 'family-window-embed') return;
      if (data.type === 'fw:exit-ack' && state.exitAck) {
        state.exitAck();
      } else if (data.type === 'fw:focus') {
        if (!isTouchLike() && !state.exited) els.input.focus({ preventScroll: true });
      }
    });

    // ------------------------------------------------------ quick exit

    function quickExit(redirect) {
      if (state.exited) return;
      state.exited = true;
      var target = httpUrl(redirect) || exitUrl();

      stopPolling();
      clearTimeout(state.blockTimer);
      state.queue.length = 0;
      state.token = null;
      storageSet(null);

      // Wipe everything the family could be seen with.
      try { els.input.value = ''; } catch (e) { /* ignore */ }
      document.title = '';
      if (document.body) document.body.replaceChildren();

      if (!framed) {
        location.replace(target);
        return;
      }
      // In the embed panel: ask the host page (embed.js) to leave; it navigates the whole tab.
      var done = false;
      var finish = function () {
        if (done) return;
        done = true;
        try {
          window.top.location.replace(target);
        } catch (e) { /* cross-origin navigation refused */ }
        try { location.replace('about:blank'); } catch (e) { /* ignore */ }
      };
      state.exitAck = function () { done = true; };
      postToParent({ type: 'fw:exit', url: target });
      setTimeout(finish, EXIT_ACK_WAIT_MS);
    }

    els.quickExit.href = exitUrl();
    els.quickExit.addEventListener('click', function (event) {
      event.preventDefault();
      quickExit();
    });
    els.quickExit.addEventListener('keydown', function (event) {
      if (event.key === ' ' || event.key === 'Spacebar') {
        event.preventDefault();
        quickExit();
      }
    });

    document.addEventListener('keydown', function (event) {
      if (event.key !== 'Escape' && event.key !== 'Esc') return;
      if (event.isComposing) return;
      var now = Date.now();
      if (now - state.escAt <= ESC_WINDOW_MS) {
        event.preventDefault();
        quickExit();
        return;
      }
      state.escAt = now;
      postToParent({ type: 'fw:escape' });
    }, true);

    window.addEventListener('pageshow', function (event) {
      // Never show the chat again from the back/forward cache after an exit.
      if (!event.persisted) return;
      if (state.exited) location.replace(exitUrl());
      else if (state.token && !document.hidden) startPolling();
    });

    // ------------------------------------------------------ scrolling

    function isNearBottom() {
      var s = els.scroller;
      return s.scrollHeight - s.scrollTop - s.clientHeight <= NEAR_BOTTOM_PX;
    }

    function scrollToBottom() {
      els.scroller.scrollTop = els.scroller.scrollHeight;
      els.pill.hidden = true;
    }

    function scrollToElement(node) {
      var top = node.getBoundingClientRect().top - els.scroller.getBoundingClientRect().top;
      els.scroller.scrollTop += top - 8;
    }

    els.scroller.addEventListener('scroll', function () {
      if (isNearBottom()) els.pill.hidden = true;
    }, { passive: true });

    els.pill.addEventListener('click', function () {
      if (prefersReducedMotion() || typeof els.scroller.scrollTo !== 'function') {
        scrollToBottom();
      } else {
        els.scroller.scrollTo({ top: els.scroller.scrollHeight, behavior: 'smooth' });
        els.pill.hidden = true;
      }
    });

    // ------------------------------------------------------ announcements

    function announce(text, urgent) {
      var region = urgent ? els.liveAssertive : els.livePolite;
      region.textContent = '';
      setTimeout(function () { region.textContent = text; }, 60);
    }

    // ------------------------------------------------------ typing

    function updateTyping() {
      var busy = !state.exited && (state.sending || !!state.starting);
      var wasNear = isNearBottom();
      els.typing.hidden = !busy;
      if (busy && wasNear) scrollToBottom();
    }

    // ------------------------------------------------------ notices

    function showNotice(spec) {
      state.notice = spec;
      renderNotice();
    }

    function clearNotice(kind) {
      if (!state.notice) return;
      if (kind && state.notice.kind !== kind) return;
      state.notice = null;
      renderNotice();
    }

    function renderNotice() {
      els.notices.replaceChildren();
      var spec = state.notice;
      if (!spec || state.exited) return;
      var box = h('div', 'notice notice--' + spec.kind);
      box.setAttribute('data-testid', 'notice');
      box.setAttribute('data-kind', spec.kind);
      box.setAttribute('role', spec.kind === 'wait' ? 'status' : 'alert');
      var text = h('span', 'notice__text');
      if (spec.kind === 'wait') {
        text.appendChild(document.createTextNode(S.wait + ' '));
        var countdown = h('span', 'notice__countdown');
        countdown.setAttribute('aria-hidden', 'true');
        text.appendChild(countdown);
        spec.countdownNode = countdown;
        updateCountdown();
      } else {
        text.textContent = S[spec.kind] || S.serverError;
      }
      box.appendChild(text);
      if (typeof spec.retry === 'function') {
        var btn = h('button', 'notice__action', S.retry);
        btn.type = 'button';
        btn.setAttribute('data-testid', 'notice-retry');
        btn.addEventListener('click', function () {
          var retry = spec.retry;
          clearNotice();
          retry();
        });
        box.appendChild(btn);
      }
      els.notices.appendChild(box);
    }

    function updateCountdown() {
      var spec = state.notice;
      if (!spec || spec.kind !== 'wait' || !spec.countdownNode) return;
      var left = Math.max(1, Math.ceil((state.blockedUntil - Date.now()) / 1000));
      spec.countdownNode.textContent = S.waitCountdown(left);
    }

    // ------------------------------------------------------ composer

    function isBlocked() {
      return Date.now() < state.blockedUntil;
    }

    function updateSend() {
      els.send.disabled = state.exited || isBlocked() || !els.input.value.trim();
    }

    function updateCounter() {
      var n = els.input.value.length;
      if (n >= COUNTER_FROM) {
        els.counter.hidden = false;
        els.counter.textContent = S.counter(n);
        els.counter.classList.toggle('is-full', n >= MAX_LEN);
      } else if (!els.counter.hidden) {
        els.counter.hidden = true;
        els.counter.textContent = '';
      }
    }

    function autosize() {
      var input = els.input;
      var wasNear = isNearBottom();
      input.style.height = 'auto';
      var borders = input.offsetHeight - input.clientHeight;
      var max = Math.max(96, Math.round(window.innerHeight * 0.4));
      var wanted = input.scrollHeight + borders;
      input.style.height = Math.min(wanted, max) + 'px';
      input.style.overflowY = wanted > max ? 'auto' : 'hidden';
      if (wasNear) scrollToBottom();
    }

    function onInput() {
      autosize();
      updateSend();
      updateCounter();
    }

    function restoreToComposer(text) {
      if (!text) return;
      var current = els.input.value;
      var merged = current.trim() ? text + '\n' + current : text;
      els.input.value = merged.slice(0, MAX_LEN);
      onInput();
    }

    els.input.addEventListener('input', onInput);

    els.input.addEventListener('keydown', function (event) {
      if (event.key !== 'Enter' || event.isComposing || event.keyCode === 229) return;
      if (event.shiftKey || event.altKey) return; // new line
      if (event.ctrlKey || event.metaKey) {
        event.preventDefault();
        submitComposer();
        return;
      }
      if (isTouchLike()) return; // on phones Enter is a new line; the button sends
      event.preventDefault();
      submitComposer();
    });

    els.form.addEventListener('submit', function (event) {
      event.preventDefault();
      submitComposer();
    });

    // Keep the on-screen keyboard open when the send button is tapped.
    els.send.addEventListener('mousedown', function (event) {
      if (document.activeElement === els.input) event.preventDefault();
    });

    function submitComposer() {
      if (state.exited) return;
      var text = els.input.value;
      if (!text.trim()) return;
      if (isBlocked()) {
        showWaitNotice();
        return;
      }
      if (text.length > MAX_LEN) {
        showNotice({ kind: 'tooLong' });
        return;
      }
      els.input.value = '';
      onInput();
      if (state.notice && state.notice.kind === 'tooLong') clearNotice();
      enqueue({ body: { text: text }, label: text, restoreText: text });
      if (!isTouchLike()) els.input.focus({ preventScroll: true });
    }

    // ------------------------------------------------------ messages

    function markButtonsStale() {
      Array.prototype.forEach.call(
        els.messages.querySelectorAll('.msg__buttons:not(.msg__buttons--stale)'),
        function (group) { group.classList.add('msg__buttons--stale'); }
      );
    }

    function buildButtons(rows) {
      if (!Array.isArray(rows)) return null;
      var group = h('div', 'msg__buttons');
      group.setAttribute('role', 'group');
      group.setAttribute('aria-label', S.buttonsGroup);
      rows.forEach(function (row) {
        var list = Array.isArray(row) ? row : [row];
        var rowEl = h('div', 'msg__row');
        list.forEach(function (b) {
          if (!b || typeof b.label !== 'string' || !b.label.trim()) return;
          var node;
          var href = b.url ? linkUrl(b.url) : null;
          if (b.url && !href) return; // unsafe or unknown scheme: drop
          if (href) {
            node = h('a', 'msg-btn msg-btn--link');
            node.href = href;
            if (/^https?:/i.test(href)) {
              node.target = '_blank';
              node.rel = 'noopener noreferrer';
              node.setAttribute('aria-describedby', 'fw-newtab-hint');
            }
            node.appendChild(document.createTextNode(b.label));
            var icon = externalIcon();
            icon.setAttribute('class', 'msg-btn__ext');
            node.appendChild(icon);
          } else {
            node = h('button', 'msg-btn', b.label);
            node.type = 'button';
            node.addEventListener('click', function () { onMessageButton(b, node); });
          }
          node.setAttribute('data-testid', 'message-button');
          rowEl.appendChild(node);
        });
        if (rowEl.childNodes.length) group.appendChild(rowEl);
      });
      return group.childNodes.length ? group : null;
    }

    function buildMessage(m) {
      var from = m.from === 'consultant' ? 'consultant' : 'bot';
      var urgent = m.urgent === true;
      var node = h('div', 'msg msg--' + from + (urgent ? ' msg--urgent' : ''));
      node.setAttribute('data-testid', 'message');
      node.setAttribute('data-from', from);
      node.setAttribute('data-urgent', urgent ? 'true' : 'false');
      if (typeof m.node === 'string' && m.node) node.setAttribute('data-node', m.node);
      node.lang = state.language;

      var bubble = h('div', 'bubble');
      if (from === 'consultant') bubble.appendChild(h('span', 'msg__label', S.consultant));
      if (urgent) {
        var badge = h('div', 'msg__urgent');
        badge.appendChild(urgentIcon());
        badge.appendChild(h('span', null, S.urgent));
        bubble.appendChild(badge);
      }
      var text = h('div', 'msg__text');
      renderRichText(text, typeof m.text === 'string' ? m.text : '');
      bubble.appendChild(text);

      var src = imageUrl(m.image);
      if (src) {
        var img = h('img', 'msg__image');
        img.alt = S.image;
        img.decoding = 'async';
        img.referrerPolicy = 'no-referrer';
        img.addEventListener('load', function () {
          // Keep the newest message in view if the reader was at the bottom before it grew.
          var s = els.scroller;
          var gap = s.scrollHeight - s.scrollTop - s.clientHeight - img.offsetHeight;
          if (gap <= NEAR_BOTTOM_PX + 24) scrollToBottom();
        });
        img.addEventListener('error', function () { img.remove(); });
        img.src = src;
        bubble.appendChild(img);
      }
      node.appendChild(bubble);

      var buttons = buildButtons(m.buttons);
      if (buttons) node.appendChild(buttons);
      return node;
    }

    function renderMessages(list, opts) {
      if (!Array.isArray(list)) return;
      var messages = list.filter(function (m) { return m && typeof m === 'object'; });
      if (!messages.length) return;
      // Urgent help comes first (stable sort keeps the server order otherwise).
      messages = messages.slice().sort(function (a, b) {
        return (b.urgent === true ? 1 : 0) - (a.urgent === true ? 1 : 0);
      });

      var wasNear = isNearBottom() || !!(opts && opts.stick);
      markButtonsStale();

      var firstUrgent = null;
      var politeText = [];
      var urgentText = [];
      messages.forEach(function (m) {
        var node = buildMessage(m);
        els.messages.appendChild(node);
        var spoken = (m.from === 'consultant' ? S.consultant + ': ' : '') + plainText(m.text);
        if (m.urgent === true) {
          urgentText.push(spoken);
          if (!firstUrgent) firstUrgent = node;
        } else {
          politeText.push(spoken);
        }
      });

      if (urgentText.length) announce(urgentText.join('\n'), true);
      if (politeText.length) announce(politeText.join('\n'), false);

      if (firstUrgent) {
        scrollToElement(firstUrgent);
        if (!isNearBottom()) els.pill.hidden = false;
        var typingDraft = document.activeElement === els.input && els.input.value.trim();
        if (!typingDraft && !document.hidden) {
          firstUrgent.tabIndex = -1;
          firstUrgent.classList.add('is-focused');
          firstUrgent.addEventListener('blur', function () {
            firstUrgent.classList.remove('is-focused');
          }, { once: true });
          try { firstUrgent.focus({ preventScroll: true }); } catch (e) { /* ignore */ }
        }
      } else if (wasNear) {
        scrollToBottom();
      } else {
        els.pill.hidden = false;
      }
    }

    function addUserBubble(text) {
      var node = h('div', 'msg msg--user msg--pending');
      node.setAttribute('data-testid', 'message');
      node.setAttribute('data-from', 'user');
      node.setAttribute('data-urgent', 'false');
      node.appendChild(h('div', 'bubble', text));
      els.messages.appendChild(node);
      return node;
    }

    function setBubbleState(item, status) {
      var node = item.bubble;
      if (!node) return;
      node.classList.toggle('msg--pending', status === 'pending');
      node.classList.toggle('msg--failed', status === 'failed');
      var label = node.querySelector('.msg__status');
      if (status === 'failed') {
        if (!label) {
          label = h('div', 'msg__status');
          node.appendChild(label);
        }
        label.textContent = S.notSent;
      } else if (label) {
        label.remove();
      }
    }

    function clearTranscript() {
      els.messages.replaceChildren();
      els.pill.hidden = true;
    }

    // ------------------------------------------------------ effects

    function applyResponse(data, opts) {
      if (!data || typeof data !== 'object' || state.exited) return;
      var effects = Array.isArray(data.effects) ? data.effects : [];
      for (var i = 0; i < effects.length; i++) {
        var fx = effects[i];
        if (fx && fx.type === 'safe_exit') {
          quickExit(fx.redirect);
          return;
        }
      }
      effects.forEach(function (fx) {
        if (!fx || typeof fx !== 'object') return;
        if (fx.type === 'clear') clearTranscript();
        else if (fx.type === 'language') setLanguage(fx.language);
        else if (fx.type === 'forget') {
          // Data deleted: forget the token and what the page shows; the reply stays.
          storageSet(null);
          state.token = null;
          clearTranscript();
        }
      });
      if (typeof data.language === 'string') setLanguage(data.language);
      renderMessages(data.messages, opts);
    }

    // ------------------------------------------------------ HTTP

    function api(method, path, body, options) {
      var opts = options || {};
      var ctl = new AbortController();
      var outer = opts.signal;
      var onAbort = function () { ctl.abort(); };
      if (outer) {
        if (outer.aborted) ctl.abort();
        else outer.addEventListener('abort', onAbort, { once: true });
      }
      var timer = setTimeout(onAbort, opts.timeout || REQUEST_TIMEOUT_MS);
      var headers = { Accept: 'application/json' };
      if (body) headers['Content-Type'] = 'application/json';
      if (opts.token) headers['X-Chat-Token'] = opts.token;
      return fetch(path, {
        method: method,
        headers: headers,
        body: body ? JSON.stringify(body) : undefined,
        credentials: 'omit',
        cache: 'no-store',
        referrerPolicy: 'no-referrer',
        signal: ctl.signal
      }).then(function (resp) {
        var type = resp.headers.get('Content-Type') || '';
        var parse = type.indexOf('json') !== -1
          ? resp.json().catch(function () { return null; })
          : resp.text().then(function () { return null; }, function () { return null; });
        return parse.then(function (data) {
          return { status: resp.status, ok: resp.ok, data: data, headers: resp.headers };
        });
      }).finally(function () {
        clearTimeout(timer);
        if (outer) outer.removeEventListener('abort', onAbort);
      });
    }

    function retryAfterMs(headers) {
      var raw = headers && headers.get('Retry-After');
      var secs = DEFAULT_RETRY_AFTER_S;
      if (raw) {
        var n = Number(raw);
        if (isFinite(n) && n >= 0) {
          secs = n;
        } else {
          var date = Date.parse(raw);
          if (!isNaN(date)) secs = Math.max(0, (date - Date.now()) / 1000);
        }
      }
      return Math.min(Math.max(secs, 1), 600) * 1000;
    }

    // ------------------------------------------------------ start

    function start(forceNew) {
      if (state.starting) return state.starting;
      state.starting = (async function () {
        var stored = forceNew ? null : (state.token || storageGet());
        for (var attempt = 0; attempt < 2; attempt++) {
          var body = {
            token: stored || null,
            language: stored ? null : (navigator.language || null)
          };
          var res = null;
          try {
            res = await api('POST', '/api/chat/start', body);
          } catch (e) {
            res = null;
          }
          if (state.exited) return false;
          if (res && res.status === 401 && stored) {
            stored = null; // forgotten or expired: begin again
            storageSet(null);
            continue;
          }
          if (!res || !res.ok || !res.data || typeof res.data.token !== 'string' || !res.data.token) {
            showNotice({
              kind: 'startFailed',
              retry: function () { start().then(function (ok) { if (ok) pump(); }); }
            });
            return false;
          }
          clearNotice('startFailed');
          if (res.data.token !== state.token) state.cursor = null;
          state.token = res.data.token;
          storageSet(state.token);
          if (res.data.cursor !== undefined && res.data.cursor !== null) {
            state.cursor = String(res.data.cursor);
          }
          applyResponse(res.data, { stick: true });
          startPolling();
          return true;
        }
        return false;
      })();
      updateTyping();
      return state.starting.finally(function () {
        state.starting = null;
        updateTyping();
      });
    }

    function restart() {
      stopPolling();
      storageSet(null);
      state.token = null;
      state.cursor = null;
      return start(true);
    }

    // ------------------------------------------------------ send queue

    function enqueue(item) {
      markButtonsStale();
      item.bubble = addUserBubble(item.label);
      state.queue.push(item);
      scrollToBottom();
      pump();
    }

    function onMessageButton(button, node) {
      if (state.exited) return;
      if (isBlocked()) {
        showWaitNotice();
        return;
      }
      var now = Date.now();
      if (node._fwClickedAt && now - node._fwClickedAt < 1000) return; // double tap
      node._fwClickedAt = now;
      var body = typeof button.payload === 'string'
        ? { payload: button.payload }
        : { text: button.label };
      enqueue({ body: body, label: button.label, restoreText: null });
    }

    function showWaitNotice() {
      showNotice({ kind: 'wait' });
    }

    function blockFor(ms) {
      state.blockedUntil = Date.now() + ms;
      showWaitNotice();
      updateSend();
      clearTimeout(state.blockTimer);
      var tick = function () {
        if (state.exited) return;
        if (isBlocked()) {
          updateCountdown();
          state.blockTimer = setTimeout(tick, Math.min(1000, state.blockedUntil - Date.now() + 20));
          return;
        }
        state.blockedUntil = 0;
        clearNotice('wait');
        updateSend();
        pump();
      };
      state.blockTimer = setTimeout(tick, Math.min(1000, ms));
    }

    /** The server refused these: give the words back to the family, nothing is lost. */
    function returnQueueToComposer(items) {
      var texts = [];
      items.forEach(function (item) {
        if (item.bubble) item.bubble.remove();
        if (item.restoreText) texts.push(item.restoreText);
      });
      if (texts.length) restoreToComposer(texts.join('\n'));
    }

    async function pump() {
      if (state.sending || state.paused || state.exited) return;
      if (!state.queue.length || isBlocked()) return;
      if (!state.token) {
        var ok = await start();
        if (!ok || !state.token) {
          state.queue.forEach(function (item) { setBubbleState(item, 'failed'); });
          return;
        }
        if (state.sending || state.paused) return;
      }
      var item = state.queue[0];
      if (!item) return;
      state.sending = true;
      setBubbleState(item, 'pending');
      updateTyping();

      var usedToken = state.token;
      var res = null;
      try {
        res = await api('POST', '/api/chat/send', item.body, { token: usedToken });
      } catch (e) {
        res = null;
      }
      state.sending = false;
      if (state.exited) return;

      if (res && res.ok) {
        state.queue.shift();
        setBubbleState(item, 'sent');
        clearNotice('offline');
        clearNotice('serverError');
        applyResponse(res.data, { stick: true });
        updateTyping();
        pump();
        return;
      }

      if (res && res.status === 401 && state.token && state.token !== usedToken) {
        pump(); // the conversation was already renewed meanwhile: just send again
        return;
      }

      if (res && res.status === 401 && !item.restarted) {
        item.restarted = true;
        var started = await restart();
        if (state.exited) return;
        if (started && item.body.payload !== undefined) {
          // A button of the old conversation means nothing in the new one.
          state.queue.shift();
          if (item.bubble) item.bubble.remove();
        } else if (started) {
          // Resend the words into the new conversation, after its greeting.
          state.queue.forEach(function (queued) {
            if (queued.bubble) els.messages.appendChild(queued.bubble);
          });
          scrollToBottom();
        }
        updateTyping();
        if (started) pump();
        else setBubbleState(item, 'failed');
        return;
      }

      if (res && res.status === 413) {
        state.queue.shift();
        returnQueueToComposer([item]);
        showNotice({ kind: 'tooLong' });
        updateTyping();
        pump();
        return;
      }

      if (res && res.status === 429) {
        var waiting = state.queue.splice(0, state.queue.length);
        returnQueueToComposer(waiting);
        blockFor(retryAfterMs(res.headers));
        updateTyping();
        return;
      }

      // Network error, timeout, 5xx or anything unexpected: keep it and offer a retry.
      state.paused = true;
      state.queue.forEach(function (queued) { setBubbleState(queued, 'failed'); });
      updateTyping();
      var offline = !res || (typeof navigator.onLine === 'boolean' && !navigator.onLine);
      showNotice({ kind: offline ? 'offline' : 'serverError', retry: resumeQueue });
    }

    function resumeQueue() {
      if (state.exited) return;
      state.paused = false;
      clearNotice('offline');
      clearNotice('serverError');
      state.queue.forEach(function (queued) { setBubbleState(queued, 'pending'); });
      pump();
    }

    window.addEventListener('online', function () {
      if (state.exited) return;
      if (state.paused) resumeQueue();
      else if (!state.token && state.notice && state.notice.kind === 'startFailed') {
        clearNotice('startFailed');
        start().then(function (ok) { if (ok) pump(); });
      }
    });

    // ------------------------------------------------------ long poll

    function stopPolling() {
      state.pollGen++;
      if (state.pollCtl) {
        try { state.pollCtl.abort(); } catch (e) { /* ignore */ }
        state.pollCtl = null;
      }
    }

    function startPolling() {
      stopPolling();
      if (!state.token || state.exited || document.hidden) return;
      pollLoop(state.pollGen);
    }

    async function pollLoop(gen) {
      while (gen === state.pollGen && !state.exited && state.token) {
        var ctl = new AbortController();
        state.pollCtl = ctl;
        var began = Date.now();
        var url = '/api/chat/updates' + (state.cursor ? '?after=' + encodeURIComponent(state.cursor) : '');
        var res = null;
        try {
          res = await api('GET', url, null, {
            token: state.token,
            signal: ctl.signal,
            timeout: POLL_TIMEOUT_MS
          });
        } catch (e) {
          res = null;
        }
        if (gen !== state.pollGen || state.exited) return;

        if (res && res.ok) {
          state.pollFailures = 0;
          var data = res.data || {};
          if (data.cursor !== undefined && data.cursor !== null) state.cursor = String(data.cursor);
          var got = Array.isArray(data.messages) && data.messages.length > 0;
          var hasEffects = Array.isArray(data.effects) && data.effects.length > 0;
          if (got || hasEffects || typeof data.language === 'string') applyResponse(data);
          if (!got && Date.now() - began < 1000) await sleep(1000); // never spin
          continue;
        }
        if (res && res.status === 401) {
          restart();
          return;
        }
        var delay;
        if (res && res.status === 429) {
          delay = retryAfterMs(res.headers);
        } else {
          delay = POLL_BACKOFF_MS[Math.min(state.pollFailures, POLL_BACKOFF_MS.length - 1)];
          state.pollFailures++;
        }
        await sleep(delay);
      }
    }

    document.addEventListener('visibilitychange', function () {
      if (state.exited) return;
      if (document.hidden) stopPolling();
      else if (state.token) startPolling();
    });

    window.addEventListener('pagehide', function () {
      stopPolling();
    });

    // ------------------------------------------------------ viewport

    // Chromium on Android: let the on-screen keyboard shrink the layout, so the composer
    // stays above it. Added at run time because Safari logs an error for the unknown key.
    if (navigator.userAgentData) {
      var viewport = document.querySelector('meta[name="viewport"]');
      var content = viewport && viewport.getAttribute('content');
      if (content && content.indexOf('interactive-widget') === -1) {
        viewport.setAttribute('content', content + ', interactive-widget=resizes-content');
      }
    }

    // ------------------------------------------------------ go

    applyChrome();
    onInput();
    start();
    postToParent({ type: 'fw:ready', exitUrl: exitUrl(), language: state.language });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
