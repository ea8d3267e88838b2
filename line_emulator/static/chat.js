// LINE emulator chat page. Plain DOM, no libraries (it must work offline).
// Everything from the bot is inserted with textContent / attributes, never as HTML.
(function () {
  "use strict";

  const base = document.body.dataset.apiBase || "/";
  const $ = (id) => document.getElementById(id);
  const SPACING = { none: 0, xs: 2, sm: 4, md: 8, lg: 12, xl: 16, xxl: 20 };

  let users = [];
  let selectedId = null;
  let lastConversationKey = "";
  let lastUsersKey = "";
  let queue = Promise.resolve();
  // The view follows the newest message unless the person scrolled up on purpose.
  let pinned = true;
  let lastScroll = { top: 0, height: 0, client: 0 };
  const phone = window.matchMedia("(max-width: 640px)");

  function api(path, options) {
    return fetch(base + path, options).then(async (response) => {
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        throw new Error(body.error || "HTTP " + response.status);
      }
      return body;
    });
  }

  function post(path, payload) {
    return api(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload || {}),
    });
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function showError(message) {
    $("error").textContent = message || "";
  }

  // -- actions -------------------------------------------------------------------------

  // Actions run one after another in the order the fan made them; none is dropped.
  function userAction(path, payload) {
    if (!selectedId) return Promise.resolve();
    const userId = selectedId;
    queue = queue.then(() => {
      showError("");
      return post("api/users/" + encodeURIComponent(userId) + "/" + path, payload)
        .then((body) => {
          if (body.webhook && userId === selectedId) renderWebhook(body.webhook);
        })
        .catch((error) => showError(error.message))
        .then(refresh);
    });
    return queue;
  }

  function isActionable(action) {
    return action && (action.type === "message" || action.type === "postback");
  }

  // Runs a LINE action object the way the LINE app would for the fan.
  function runAction(action) {
    if (!isActionable(action)) return;
    if (action.type === "message") {
      userAction("text", { text: action.text || action.label || "" });
    } else {
      userAction("postback", { data: action.data || "", displayText: action.displayText || action.text || null });
    }
  }

  function actionButton(action, className, fallbackLabel) {
    const label = (action && action.label) || fallbackLabel || "";
    const button = el("button", className, label);
    button.type = "button";
    if (isActionable(action)) {
      button.addEventListener("click", () => runAction(action));
    } else {
      // uri / datetimepicker / camera ... are shown but cannot be played here.
      button.disabled = true;
      button.title = (action && action.type) + " アクションはエミュレーターでは使えません";
    }
    return button;
  }

  // -- fans list -----------------------------------------------------------------------

  function renderUsers() {
    const key = JSON.stringify(users) + "|" + selectedId;
    if (key === lastUsersKey) return;
    lastUsersKey = key;
    const list = $("fan-list");
    list.replaceChildren();
    for (const user of users) {
      const item = el("li");
      const button = el("button");
      button.type = "button";
      button.dataset.userId = user.userId;
      if (user.userId === selectedId) button.classList.add("selected");
      button.append(el("span", "fan-name", user.displayName));
      button.append(el("span", "badge" + (user.following ? " on" : ""), user.following ? "友だち" : "未追加"));
      button.addEventListener("click", () => selectUser(user.userId));
      item.append(button);
      list.append(item);
    }
  }

  function selectUser(userId) {
    selectedId = userId;
    lastConversationKey = "";
    pinned = true;
    $("chat").hidden = false;
    $("chat-empty").hidden = true;
    document.body.classList.add("chat-open");
    // The open chat survives a reload (and, with the emulator's store, a restart).
    history.replaceState(null, "", "#" + encodeURIComponent(userId));
    showError("");
    renderUsers();
    refresh();
  }

  function backToList() {
    selectedId = null;
    lastConversationKey = "";
    $("chat").hidden = true;
    $("chat-empty").hidden = false;
    document.body.classList.remove("chat-open");
    history.replaceState(null, "", location.pathname + location.search);
    renderUsers();
  }

  // -- keeping the newest message in view ------------------------------------------------

  function atBottom(box) {
    return box.scrollHeight - box.scrollTop - box.clientHeight < 24;
  }

  function rememberScroll(box) {
    lastScroll = { top: box.scrollTop, height: box.scrollHeight, client: box.clientHeight };
    $("btn-jump").hidden = pinned;
  }

  // Called after anything that can move the bottom: new entries, images loading, the box resizing.
  function followNewest() {
    const box = $("messages");
    if (pinned) box.scrollTop = box.scrollHeight;
    rememberScroll(box);
  }

  function onMessagesScroll() {
    const box = $("messages");
    // Only a move up with the layout unchanged is the person's doing; a box that grew or
    // shrank (rich menu image, quick replies, keyboard) moves scrollTop by itself.
    const movedUp = box.scrollTop < lastScroll.top - 1;
    const sameLayout = box.scrollHeight === lastScroll.height && box.clientHeight === lastScroll.client;
    if (atBottom(box)) pinned = true;
    else if (movedUp && sameLayout) pinned = false;
    rememberScroll(box);
  }

  // -- conversation --------------------------------------------------------------------

  function renderWebhook(webhook) {
    const node = $("webhook-status");
    if (!webhook) {
      node.textContent = "webhook: -";
      node.className = "webhook-status";
      return;
    }
    const ok = webhook.status !== null && webhook.status >= 200 && webhook.status < 300;
    node.textContent = "webhook: " + (webhook.status !== null ? webhook.status : "送信失敗 " + (webhook.error || ""));
    node.className = "webhook-status " + (ok ? "ok" : "bad");
  }

  function renderConversation(data) {
    const key = JSON.stringify(data);
    if (key === lastConversationKey) return;
    lastConversationKey = key;

    const user = data.user;
    $("chat-title").textContent = user.displayName;
    $("follow-state").textContent = user.following ? "友だち" : "友だちではありません";
    $("btn-follow").disabled = user.following;
    $("btn-unfollow").disabled = !user.following;
    $("composer-text").disabled = !user.following;
    renderWebhook(data.webhook);

    const box = $("messages");
    if (box.dataset.userId !== user.userId) pinned = true;
    // Re-rendering replaces the nodes; keep an unpinned reader exactly where they were.
    const keepTop = box.scrollTop;
    box.replaceChildren();
    for (const entry of data.entries) {
      box.append(renderEntry(entry));
    }
    box.dataset.userId = user.userId;

    renderQuickReplies(data.entries, user.following);
    renderRichMenu(data.richMenu);
    if (!pinned) box.scrollTop = keepTop;
    followNewest();
  }

  function renderEntry(entry) {
    const message = entry.message || {};
    if (entry.direction === "user") {
      if (message.type === "follow") return systemRow("友だち追加しました");
      if (message.type === "unfollow") return systemRow("ブロックしました");
      if (message.type === "postback") {
        if (!message.displayText) return systemRow("postback: " + message.data);
        const row = el("div", "row user");
        row.append(el("div", "bubble", message.displayText));
        return row;
      }
      const row = el("div", "row user");
      row.append(el("div", "bubble", message.text || "[" + message.type + "]"));
      return row;
    }
    const row = el("div", "row bot" + (entry.delivered ? "" : " undelivered"));
    row.dataset.messageType = message.type || "";
    row.append(message.type === "coupon" ? renderCoupon(entry.coupon, message) : renderMessage(message));
    const meta = el("div", "meta", entry.source + (entry.delivered ? "" : " · 未配信 (ブロック中)"));
    row.append(meta);
    return row;
  }

  function systemRow(text) {
    const row = el("div", "row system");
    row.append(el("span", "note", text));
    return row;
  }

  // A LINE coupon as the chat shows it: its image, title, reward and validity (the coupon tab opens on tap).
  function renderCoupon(coupon, message) {
    const card = el("div", "line-coupon");
    if (!coupon) {
      card.append(el("div", "line-coupon-title", "[クーポン " + message.couponId + "（見つかりません）]"));
      return card;
    }
    if (coupon.imageUrl) {
      const img = el("img", "line-coupon-image");
      img.src = coupon.imageUrl;
      img.alt = "";
      card.append(img);
    }
    card.append(el("div", "line-coupon-badge", "LINEクーポン"));
    card.append(el("div", "line-coupon-title", coupon.title));
    const reward = rewardText(coupon.reward);
    if (reward) card.append(el("div", "line-coupon-reward", reward));
    const until = new Date(coupon.endTimestamp * 1000).toLocaleString("ja-JP", {
      timeZone: "Asia/Tokyo", year: "numeric", month: "long", day: "numeric", weekday: "short",
      hour: "2-digit", minute: "2-digit",
    });
    card.append(el("div", "line-coupon-validity", "有効期限：" + until + "まで"));
    if (coupon.usageCondition) card.append(el("div", "line-coupon-terms", "利用条件：" + coupon.usageCondition));
    if (coupon.status === "CLOSED") card.append(el("div", "line-coupon-closed", "配布終了"));
    return card;
  }

  function rewardText(reward) {
    if (!reward) return "";
    const price = reward.priceInfo || {};
    switch (reward.type) {
      case "discount":
        if (price.type === "fixed") return price.fixedAmount + "円引き";
        if (price.type === "percentage") return price.percentage + "%引き";
        if (price.type === "explicit") return price.originalPrice + "円 → " + price.priceAfterDiscount + "円";
        return "割引";
      case "cashBack":
        return price.type === "percentage" ? price.percentage + "%キャッシュバック" : price.fixedAmount + "円キャッシュバック";
      case "free":
        return "無料";
      case "gift":
        return "プレゼント";
      default:
        return "";
    }
  }

  function renderMessage(message) {
    switch (message.type) {
      case "text":
        return el("div", "bubble", message.text);
      case "textV2":
        return el("div", "bubble", message.text);
      case "image": {
        const img = el("img", "msg-image");
        img.src = message.previewImageUrl || message.originalContentUrl;
        img.alt = "画像";
        return img;
      }
      case "sticker":
        return el("div", "bubble", "[スタンプ " + message.packageId + "/" + message.stickerId + "]");
      case "flex": {
        const wrap = el("div", "flex-message");
        wrap.append(renderFlexContainer(message.contents || {}));
        wrap.append(el("div", "flex-alt", "altText: " + message.altText));
        return wrap;
      }
      case "template":
        return renderTemplate(message.template || {}, message.altText);
      default:
        return el("div", "bubble", "[" + message.type + " メッセージ]");
    }
  }

  function renderQuickReplies(entries, following) {
    const bar = $("quick-replies");
    bar.replaceChildren();
    const last = entries[entries.length - 1];
    // Like LINE, quick replies show only while their message is the newest in the chat.
    if (!following || !last || last.direction !== "bot" || !last.delivered) return;
    const quick = last.message.quickReply;
    if (!quick || !Array.isArray(quick.items)) return;
    for (const item of quick.items) {
      bar.append(actionButton(item.action, "quick-reply"));
    }
  }

  function renderRichMenu(menu) {
    const holder = $("rich-menu");
    if (!menu) {
      holder.hidden = true;
      holder.dataset.menuId = "";
      return;
    }
    holder.hidden = false;
    if (holder.dataset.menuId === menu.richMenuId) return;
    holder.dataset.menuId = menu.richMenuId;
    const frame = $("rich-menu-frame");
    frame.querySelectorAll(".rich-menu-area").forEach((node) => node.remove());
    $("rich-menu-image").src = menu.imageUrl;
    const width = menu.size.width;
    const height = menu.size.height;
    for (const area of menu.areas || []) {
      const b = area.bounds;
      const button = actionButton(area.action, "rich-menu-area", " ");
      // The image carries the labels, as on a phone; the area itself stays invisible.
      button.textContent = "";
      button.style.left = (100 * b.x) / width + "%";
      button.style.top = (100 * b.y) / height + "%";
      button.style.width = (100 * b.width) / width + "%";
      button.style.height = (100 * b.height) / height + "%";
      button.setAttribute("aria-label", (area.action && area.action.label) || "リッチメニュー");
      frame.append(button);
    }
    $("rich-menu-bar").textContent = (menu.chatBarText || "メニュー") + " ▾";
    frame.hidden = !menu.selected;
  }

  // -- flex ----------------------------------------------------------------------------

  function renderFlexContainer(container) {
    if (container.type === "carousel") {
      const row = el("div", "flex-carousel");
      for (const bubble of container.contents || []) row.append(renderBubble(bubble));
      return row;
    }
    return renderBubble(container);
  }

  function renderBubble(bubble) {
    const node = el("div", "flex-bubble" + (bubble.size ? " size-" + bubble.size : ""));
    const styles = bubble.styles || {};
    for (const part of ["header", "hero", "body", "footer"]) {
      const content = bubble[part];
      if (!content) continue;
      const section = el("div", "flex-section flex-" + part);
      const style = styles[part] || {};
      if (style.backgroundColor) section.style.backgroundColor = style.backgroundColor;
      if (style.separator) section.style.borderTop = "1px solid " + (style.separatorColor || "#ddd");
      section.append(renderComponent(content, "vertical"));
      node.append(section);
    }
    if (bubble.action && isActionable(bubble.action)) {
      node.style.cursor = "pointer";
      node.addEventListener("click", (event) => {
        if (event.target.closest("button")) return;
        runAction(bubble.action);
      });
    }
    return node;
  }

  function spacing(value) {
    if (value === undefined) return null;
    return value in SPACING ? SPACING[value] + "px" : value;
  }

  function applyCommon(node, component, parentLayout) {
    const margin = spacing(component.margin);
    if (margin) {
      if (parentLayout === "vertical") node.style.marginTop = margin;
      else node.style.marginLeft = margin;
    }
    if (component.flex !== undefined) node.style.flex = String(component.flex);
    else if (parentLayout !== "vertical" && component.type !== "separator") node.style.flex = "1";
    if (component.gravity === "center") node.style.alignSelf = "center";
    if (component.gravity === "bottom") node.style.alignSelf = "flex-end";
  }

  function renderComponent(component, parentLayout) {
    let node;
    switch (component.type) {
      case "box": {
        const layout = component.layout || "vertical";
        node = el("div", "flex-box " + layout);
        const gap = spacing(component.spacing);
        if (gap) node.style.gap = gap;
        if (component.backgroundColor) node.style.backgroundColor = component.backgroundColor;
        if (component.cornerRadius) node.style.borderRadius = spacing(component.cornerRadius);
        if (component.paddingAll) node.style.padding = spacing(component.paddingAll);
        if (component.borderColor) node.style.border = "1px solid " + component.borderColor;
        if (component.justifyContent) node.style.justifyContent = component.justifyContent;
        if (component.alignItems) node.style.alignItems = component.alignItems;
        for (const child of component.contents || []) node.append(renderComponent(child, layout));
        if (component.action && isActionable(component.action)) {
          node.style.cursor = "pointer";
          node.addEventListener("click", (event) => {
            event.stopPropagation();
            runAction(component.action);
          });
        }
        break;
      }
      case "text": {
        node = el("div", "flex-text" + (component.wrap ? " wrap" : "") + " size-" + (component.size || "md"));
        if (Array.isArray(component.contents) && component.contents.length) {
          for (const span of component.contents) {
            const s = el("span", span.size ? "size-" + span.size : "", span.text);
            if (span.weight === "bold") s.style.fontWeight = "bold";
            if (span.color) s.style.color = span.color;
            if (span.style === "italic") s.style.fontStyle = "italic";
            if (span.decoration) s.style.textDecoration = span.decoration;
            node.append(s);
          }
        } else {
          node.textContent = component.text || "";
        }
        if (component.weight === "bold") node.style.fontWeight = "bold";
        if (component.color) node.style.color = component.color;
        if (component.align) node.style.textAlign = component.align === "end" ? "right" : component.align === "center" ? "center" : "left";
        if (component.decoration) node.style.textDecoration = component.decoration;
        if (component.style === "italic") node.style.fontStyle = "italic";
        break;
      }
      case "button": {
        node = actionButton(component.action, "flex-button " + (component.style || "link"));
        if (component.color) {
          if (component.style === "link" || !component.style) node.style.color = component.color;
          else node.style.backgroundColor = component.color;
        }
        break;
      }
      case "image": {
        node = el("img", "flex-image");
        node.src = component.url;
        node.alt = "";
        if (component.aspectRatio) node.style.aspectRatio = component.aspectRatio.replace(":", "/");
        if (component.aspectMode === "fit") node.style.objectFit = "contain";
        break;
      }
      case "icon": {
        node = el("img", "flex-icon");
        node.src = component.url;
        node.alt = "";
        node.style.height = "1em";
        node.style.flex = "none";
        return node;
      }
      case "separator": {
        node = el("div", "flex-separator");
        if (component.color) node.style.borderColor = component.color;
        break;
      }
      case "spacer":
      case "filler":
        node = el("div", "flex-filler");
        break;
      default:
        node = el("div", "flex-text", "[" + component.type + "]");
    }
    applyCommon(node, component, parentLayout);
    return node;
  }

  // -- templates -----------------------------------------------------------------------

  function templateCard(column, actions, confirm) {
    const card = el("div", "tpl-card");
    if (column.thumbnailImageUrl) {
      const img = el("img");
      img.src = column.thumbnailImageUrl;
      img.alt = "";
      card.append(img);
    }
    if (column.title) card.append(el("div", "tpl-title", column.title));
    if (column.text) card.append(el("div", "tpl-text", column.text));
    const row = el("div", "tpl-actions" + (confirm ? " confirm" : ""));
    for (const action of actions || []) row.append(actionButton(action, "tpl-action"));
    card.append(row);
    return card;
  }

  function renderTemplate(template, altText) {
    switch (template.type) {
      case "buttons":
        return templateCard(template, template.actions, false);
      case "confirm":
        return templateCard(template, template.actions, true);
      case "carousel": {
        const row = el("div", "tpl-carousel");
        for (const column of template.columns || []) row.append(templateCard(column, column.actions, false));
        return row;
      }
      case "image_carousel": {
        const row = el("div", "tpl-carousel");
        for (const column of template.columns || []) {
          row.append(templateCard({ thumbnailImageUrl: column.imageUrl }, [column.action], false));
        }
        return row;
      }
      default:
        return el("div", "bubble", altText || "[template]");
    }
  }

  // -- polling -------------------------------------------------------------------------

  function refresh() {
    const tasks = [
      api("api/users").then((body) => {
        users = body.users;
        renderUsers();
      }),
    ];
    if (selectedId) {
      const id = selectedId;
      tasks.push(
        api("api/conversation/" + encodeURIComponent(id)).then((data) => {
          if (id === selectedId) renderConversation(data);
        })
      );
    }
    return Promise.all(tasks).catch((error) => showError(error.message));
  }

  $("new-fan").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("new-fan-name");
    post("api/users", { displayName: input.value })
      .then((body) => {
        input.value = "";
        selectUser(body.user.userId);
      })
      .catch((error) => showError(error.message));
  });

  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("composer-text");
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    userAction("text", { text: text });
  });

  $("btn-back").addEventListener("click", backToList);
  $("btn-jump").addEventListener("click", () => {
    pinned = true;
    followNewest();
  });
  const messagesBox = $("messages");
  messagesBox.addEventListener("scroll", onMessagesScroll, { passive: true });
  // Images (rich menu, picture messages, Flex heroes) finish loading after the render.
  document.addEventListener("load", followNewest, true);
  new ResizeObserver(followNewest).observe(messagesBox);
  // Like the phone's keyboard, typing folds the rich menu away on a small screen.
  $("composer-text").addEventListener("focus", () => {
    if (phone.matches) $("rich-menu-frame").hidden = true;
  });
  $("btn-follow").addEventListener("click", () => userAction("follow"));
  $("btn-unfollow").addEventListener("click", () => userAction("unfollow"));
  $("btn-redeliver").addEventListener("click", () => userAction("redeliver"));
  $("rich-menu-bar").addEventListener("click", () => {
    const frame = $("rich-menu-frame");
    frame.hidden = !frame.hidden;
  });

  const opened = decodeURIComponent(location.hash.slice(1));
  refresh().then(() => {
    if (opened && users.some((user) => user.userId === opened)) selectUser(opened);
  });
  setInterval(refresh, 1000);
})();
