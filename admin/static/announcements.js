// An announcement being sent: its figures refresh every 2 s without a reload,
// and the page reloads once it is stopped or done (to show the final figures).
// Only numbers and fixed words come back; set with textContent. The page works
// without this script (a reload shows the same).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const card = document.querySelector("[data-progress]");
  if (!card) return;
  const source = card.dataset.progress;
  const pollMs = Number(card.dataset.pollMs) || 2000;
  const bar = card.querySelector("[data-bar]");
  const stale = card.querySelector("[data-stale]");
  let failures = 0;

  const show = (figures) => {
    document.querySelectorAll("[data-field]").forEach((node) => {
      const value = figures[node.dataset.field];
      if (value !== undefined && value !== null) node.textContent = String(value);
    });
    if (bar) {
      bar.max = figures.total || 1;
      bar.value = figures.total ? figures.sent : 0;
    }
  };

  const poll = async () => {
    try {
      const response = await fetch(source, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(String(response.status));
      const figures = await response.json();
      failures = 0;
      if (stale) stale.hidden = true;
      if (figures.status !== "sending") {
        window.location.reload();
        return;
      }
      show(figures);
    } catch (error) {
      failures += 1;
      if (stale && failures >= 3) stale.hidden = false;
    }
    window.setTimeout(poll, document.hidden ? Math.max(pollMs, 10000) : pollMs);
  };
  window.setTimeout(poll, pollMs);
});
