// Reads a coupon QR with the phone's camera (jsQR, vendored under vendor/jsqr with its licence)
// and submits what it holds to the same 「確認する」 form a typed code goes through.
(() => {
  "use strict";
  const start = document.getElementById("scan-start");
  const video = document.getElementById("scan-video");
  const canvas = document.getElementById("scan-canvas");
  const status = document.getElementById("scan-status");
  const form = document.getElementById("check-form");
  const input = document.getElementById("code");
  if (!start || !video || !canvas || !form || !input) return;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || typeof jsQR !== "function") {
    start.hidden = true;
    return;
  }
  let stream = null;

  function stop() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.hidden = true;
  }

  function tick() {
    if (!stream) return;
    if (video.readyState === video.HAVE_ENOUGH_DATA) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      const context = canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      const image = context.getImageData(0, 0, canvas.width, canvas.height);
      const found = jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
      if (found && found.data) {
        stop();
        input.value = found.data;
        status.textContent = "読み取りました。確認しています…";
        form.submit();
        return;
      }
    }
    requestAnimationFrame(tick);
  }

  start.addEventListener("click", async () => {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (error) {
      status.textContent = "カメラを使えません。コードを入力してください。";
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    status.textContent = "QRコードを枠に入れてください。";
    await video.play();
    requestAnimationFrame(tick);
  });
})();
