// Scan a voucher's QR code with the phone camera where the browser can
// (BarcodeDetector); everywhere else the code is simply typed.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // One tap redeems: a second tap on a slow connection would only show "already used".
  document.querySelectorAll("form.redeem").forEach((form) => {
    form.addEventListener("submit", () => {
      form.querySelectorAll("button").forEach((button) => {
        button.disabled = true;
      });
    });
  });

  const button = document.getElementById("scan");
  const note = document.getElementById("scan-note");
  const video = document.getElementById("scan-video");
  const input = document.getElementById("code");
  const media = navigator.mediaDevices;
  if (!button || !note || !video || !input || !("BarcodeDetector" in window)) return;
  if (!media || typeof media.getUserMedia !== "function") return;

  let stream = null;
  let detector = null;
  const label = button.textContent;

  const say = (message) => {
    note.textContent = message;
    note.hidden = !message;
  };
  const stop = () => {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
    video.hidden = true;
    button.textContent = label;
  };
  const scan = async () => {
    if (!stream) return;
    try {
      const found = await detector.detect(video);
      const value = found.length ? String(found[0].rawValue || "").trim() : "";
      if (value) {
        stop();
        input.value = value;
        input.form.requestSubmit();
        return;
      }
    } catch (error) {
      // A frame that could not be read: try the next one.
    }
    window.setTimeout(scan, 200);
  };

  window.BarcodeDetector.getSupportedFormats()
    .then((formats) => {
      if (!formats.includes("qr_code")) return;
      detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      button.hidden = false;
    })
    .catch(() => {});

  button.addEventListener("click", async () => {
    if (stream) {
      stop();
      say("");
      return;
    }
    try {
      stream = await media.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (error) {
      say("Камера недоступна. Введите код вручную — это так же надёжно.");
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    button.textContent = "Остановить камеру";
    say("Наведите камеру на QR-код сертификата.");
    try {
      await video.play();
    } catch (error) {
      // Autoplay refused: the stream still feeds the detector once shown.
    }
    scan();
  });
  // Leaving the page turns the camera off.
  window.addEventListener("pagehide", stop);
});
