// Small touches only; every page works without this script.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Ask before destructive actions (forms marked data-confirm="…").
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
  // Auto-submit filters marked data-autosubmit on change.
  document.querySelectorAll("form[data-autosubmit]").forEach((form) => {
    form.addEventListener("change", () => form.requestSubmit());
  });
});
