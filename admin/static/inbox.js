// The consultants' inbox: new messages and queue changes show without a reload,
// and a canned reply can be put into the reply box. What families write is only
// ever set with textContent, never parsed as HTML. The pages work without this
// script (a reload shows everything).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const root = document.querySelector("[data-inbox]");
  if (!root) return;
  const pollMs = Number(root.dataset.pollMs) || 2500;
  const HIDDEN_MS = 10000; // a tab in the background asks less often
  const banner = root.querySelector("[data-banner]");
  const bannerText = root.querySelector("[data-banner-text]");
  const replyBox = root.querySelector("[data-reply-text]");
  const draftKey = `inbox-draft-${root.dataset.case || ""}`;
  const title = document.title;

  const show = (message) => {
    if (!banner || !bannerText) return;
    bannerText.textContent = message;
    banner.hidden = false;
  };
  const storage = () => {
    try {
      return window.sessionStorage;
    } catch (error) {
      return null; // storage switched off: drafts are simply not kept
    }
  };

  // What was typed in the reply box survives the reload the banner offers.
  const store = storage();
  if (store) {
    const saved = store.getItem(draftKey);
    store.removeItem(draftKey);
    if (saved && replyBox && !replyBox.value) replyBox.value = saved;
  }
  root.querySelectorAll("[data-reload]").forEach((button) => {
    button.addEventListener("click", () => {
      if (store && replyBox && replyBox.value.trim()) store.setItem(draftKey, replyBox.value);
      window.location.reload();
    });
  });

  // One press sends once, even on a slow connection.
  root.querySelectorAll("form[method=post]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (event.defaultPrevented) return; // a data-confirm question was answered "no"
      form.querySelectorAll("button[type=submit]").forEach((button) => {
        button.disabled = true;
      });
    });
  });

  // A canned reply goes into the box; the consultant may still change it.
  const picker = root.querySelector("[data-canned]");
  if (picker && replyBox) {
    picker.addEventListener("change", () => {
      const option = picker.selectedOptions[0];
      const chosen = option ? option.dataset.text || "" : "";
      picker.value = "";
      if (!chosen) return;
      const typed = replyBox.value.trim();
      if (typed && typed !== chosen && !window.confirm("Заменить набранный текст шаблоном?")) {
        return;
      }
      replyBox.value = chosen;
      replyBox.focus();
    });
  }
  if (replyBox) {
    replyBox.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && replyBox.form) {
        event.preventDefault();
        replyBox.form.requestSubmit();
      }
    });
  }

  class Gone extends Error {}
  const getJSON = async (url) => {
    const response = await fetch(url, {
      credentials: "same-origin",
      cache: "no-store",
      redirect: "manual", // an ended session answers with a redirect to the login page
      headers: { Accept: "application/json" },
    });
    if (response.type === "opaqueredirect" || response.status === 401) {
      throw new Gone("Сеанс закончился: обновите страницу и войдите снова.");
    }
    if (response.status === 403 || response.status === 404) {
      throw new Gone("Обращение больше недоступно вам (возможно, его передали другой специальности).");
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  };

  const poll = (run) => {
    let timer = 0;
    let failures = 0;
    let stopped = false;
    let busy = false; // a tab coming back to view must not start a second loop
    const OFFLINE = "Нет связи с сервером. Пробуем снова…";
    const tick = async () => {
      if (stopped || busy) return;
      window.clearTimeout(timer);
      busy = true;
      try {
        await run();
        if (failures >= 3 && bannerText && bannerText.textContent === OFFLINE) banner.hidden = true;
        failures = 0;
      } catch (error) {
        if (error instanceof Gone) {
          stopped = true;
          show(error.message);
          return;
        }
        failures += 1;
        if (failures === 3) show(OFFLINE);
      } finally {
        busy = false;
      }
      timer = window.setTimeout(tick, document.hidden ? HIDDEN_MS : pollMs);
    };
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) {
        document.title = title;
        tick();
      }
    });
    timer = window.setTimeout(tick, pollMs);
  };

  // -- the lists: counts follow the server; any change offers a reload ---------------
  if (root.dataset.inbox === "lists") {
    poll(async () => {
      const data = await getJSON(root.dataset.stateUrl);
      ["mine", "queue", "others"].forEach((name) => {
        const counter = root.querySelector(`[data-count="${name}"]`);
        if (counter) counter.textContent = String(data[name]);
      });
      if (data.version !== root.dataset.version) {
        show("Очередь или ваши чаты изменились.");
        if (document.hidden) document.title = `● ${title}`;
      }
    });
    return;
  }

  // -- one case: new messages are appended, edits replaced, status changes told ------
  const conversation = root.querySelector("#conversation");
  const template = root.querySelector("#message-template");
  const empty = root.querySelector("[data-empty]");
  if (!conversation || !template) return;
  const fill = (item, message) => {
    item.className = `msg msg-${message.author}`;
    item.dataset.id = String(message.id);
    item.querySelector(".who").textContent = message.who;
    item.querySelector("time").textContent = message.time;
    item.querySelector(".edited").hidden = !message.edited;
    const attachment = item.querySelector(".attachment");
    attachment.textContent = message.attachment;
    attachment.hidden = !message.attachment;
    const text = item.querySelector(".text");
    text.textContent = message.text;
    text.hidden = !message.text;
  };
  const find = (id) => conversation.querySelector(`[data-id="${Number(id)}"]`);
  const STATUS = {
    new: () => "Обращение вернулось в очередь.",
    closed: () => "Обращение закрыто.",
    open: (data) => `Обращение теперь ведёт ${data.holder || "коллега"}.`,
  };
  conversation.scrollTop = conversation.scrollHeight;

  poll(async () => {
    const url = new URL(conversation.dataset.messagesUrl, window.location.href);
    url.searchParams.set("after", conversation.dataset.after || "0");
    if (conversation.dataset.since) url.searchParams.set("since", conversation.dataset.since);
    const data = await getJSON(url);
    const atBottom =
      conversation.scrollHeight - conversation.scrollTop - conversation.clientHeight < 80;
    data.messages.forEach((message) => {
      if (!find(message.id)) {
        const item = template.content.firstElementChild.cloneNode(true);
        fill(item, message);
        conversation.append(item);
      }
      conversation.dataset.after = String(message.id);
    });
    data.edited.forEach((message) => {
      const item = find(message.id);
      if (item) fill(item, message);
    });
    conversation.dataset.since = data.now;
    if (data.messages.length) {
      if (empty) empty.hidden = true;
      if (atBottom) conversation.scrollTop = conversation.scrollHeight;
      if (document.hidden && data.messages.some((m) => m.author === "family")) {
        document.title = `● ${title}`;
      }
    }
    const holder = data.consultant_id === null ? "" : String(data.consultant_id);
    if (data.status !== conversation.dataset.status || holder !== conversation.dataset.holder) {
      const say = STATUS[data.status];
      show(`${say ? say(data) : "Обращение изменилось."} Обновите страницу, чтобы увидеть действия.`);
    }
  });
});
