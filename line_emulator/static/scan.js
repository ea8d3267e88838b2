// Playing a QR scan: LINE opens an oaMessage link (https://line.me/R/oaMessage/{basic id}/?{text})
// as the account's chat with the text typed in, and the fan taps send. The emulator does the same:
// paste the link that the QR code holds and the text lands in the message box.
(() => {
  "use strict";
  const OA_MESSAGE = /^https:\/\/line\.me\/R\/oaMessage\/([^/?#]+)\/?\?(.*)$/;

  function parse(url) {
    const match = OA_MESSAGE.exec(url.trim());
    if (!match) return null;
    try {
      return { account: decodeURIComponent(match[1]), text: decodeURIComponent(match[2].replace(/\+/g, "%20")) };
    } catch (error) {
      return null;
    }
  }

  function install() {
    const actions = document.querySelector(".chat-actions");
    const composer = document.getElementById("composer");
    const input = document.getElementById("composer-text");
    if (!actions || !composer || !input) return;
    const button = document.createElement("button");
    button.type = "button";
    button.id = "btn-scan";
    button.textContent = "QRを読む";
    actions.appendChild(button);

    const form = document.createElement("form");
    form.id = "scan-form";
    form.className = "scan-form";
    form.hidden = true;
    form.autocomplete = "off";
    form.innerHTML =
      '<input id="scan-url" aria-label="QRコードのURL" placeholder="https://line.me/R/oaMessage/…">' +
      '<button type="submit">読み取る</button><span class="scan-error" id="scan-error" role="alert"></span>';
    composer.parentNode.insertBefore(form, composer);

    button.addEventListener("click", () => {
      form.hidden = !form.hidden;
      if (!form.hidden) document.getElementById("scan-url").focus();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const scanned = parse(document.getElementById("scan-url").value);
      const error = document.getElementById("scan-error");
      if (!scanned) {
        error.textContent = "LINEのメッセージ用QRコード（https://line.me/R/oaMessage/…）ではありません。";
        return;
      }
      error.textContent = "";
      input.value = scanned.text;
      form.hidden = true;
      document.getElementById("scan-url").value = "";
      input.focus();
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", install);
  else install();
})();
