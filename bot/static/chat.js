// 品检 web chat. Plain JavaScript, no build step, no external resources.
//
// Sign-in: the personal link carries the token in its fragment (#t=…), which browsers never
// send to a server. The page keeps it for this tab (sessionStorage; localStorage remembers the
// latest one for bookmarks) and sends it as a Bearer header on every request.
// Messages arrive as server-sent events read with fetch (EventSource cannot send a header);
// each carries its transcript position `seq`, so a reconnect asks only for what it missed.
"use strict";

(() => {
  const TOKEN_KEY = "pinjian.token";
  const $ = (id) => document.getElementById(id);
  const el = {
    log: $("log"),
    jump: $("jump"),
    who: $("who"),
    status: $("status"),
    gate: $("gate"),
    gateTitle: $("gate-title"),
    gateText: $("gate-text"),
    composer: $("composer"),
    text: $("text"),
    menu: $("menu"),
    menuButton: $("menu-button"),
    commands: $("commands"),
    camera: $("camera"),
    cameraButton: $("camera-button"),
    gallery: $("gallery"),
    galleryButton: $("gallery-button"),
    toast: $("toast"),
    viewer: $("viewer"),
    viewerImage: $("viewer-image"),
    viewerClose: $("viewer-close"),
  };
  const state = {
    token: null,
    lastSeq: 0,
    maxUpload: 20 * 1048576,
    messages: new Map(), // shown message id -> element
    pending: new Map(), // page message id -> element of a message not yet confirmed
    images: new Map(), // sha256 -> Promise of an object URL
    signedOut: false,
    greeted: false,
    stick: true, // follow new messages unless the person scrolled up to read
    lastActivity: Date.now(),
  };

  class SignedOut extends Error {}

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ---- the token ------------------------------------------------------------------------

  function storage(kind) {
    try {
      return window[kind];
    } catch {
      return null;
    }
  }

  function remember(token) {
    for (const kind of ["sessionStorage", "localStorage"]) {
      try {
        storage(kind)?.setItem(TOKEN_KEY, token);
      } catch {
        // private mode: the token lives only as long as the page
      }
    }
  }

  function forget(token) {
    for (const kind of ["sessionStorage", "localStorage"]) {
      try {
        const store = storage(kind);
        if (store && store.getItem(TOKEN_KEY) === token) store.removeItem(TOKEN_KEY);
      } catch {
        // nothing stored
      }
    }
  }

  function readToken() {
    const match = /(?:^#|&)t=([A-Za-z0-9_-]{32,128})(?:&|$)/.exec(location.hash);
    if (match) {
      remember(match[1]);
      history.replaceState(null, "", location.pathname + location.search);
      return match[1];
    }
    for (const kind of ["sessionStorage", "localStorage"]) {
      try {
        const token = storage(kind)?.getItem(TOKEN_KEY);
        if (token) return token;
      } catch {
        // unavailable
      }
    }
    return null;
  }

  function newId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function api(path, options = {}) {
    const headers = Object.assign({}, options.headers, { Authorization: `Bearer ${state.token}` });
    const response = await fetch(
      path,
      Object.assign({ cache: "no-store" }, options, { headers, credentials: "omit" }),
    );
    if (response.status === 401) {
      await signOut(response);
      throw new SignedOut();
    }
    return response;
  }

  async function explanation(response) {
    try {
      return (await response.json()).message || "";
    } catch {
      return ""; // no explanation given
    }
  }

  async function signOut(response) {
    const message = await explanation(response);
    if (state.signedOut) return;
    state.signedOut = true;
    forget(state.token);
    showGate("链接已失效", message || "这个链接已失效或已被撤销。请联系管理员获取新的专属链接。");
  }

  function showGate(title, text) {
    el.gateTitle.textContent = title;
    el.gateText.textContent = text;
    el.gate.hidden = false;
    el.log.hidden = true;
    el.composer.hidden = true;
    el.menu.hidden = true;
    el.jump.hidden = true;
    el.status.textContent = "";
    el.who.textContent = "物业服务品质检查";
  }

  // ---- the bot's rich text --------------------------------------------------------------
  // Bot texts are a small HTML subset: <b>, <i>, <code>, <br> and character entities. Only
  // those become elements; anything else stays literal text. Nothing is parsed as HTML.

  const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };
  const MARKUP = /<(\/?)(b|i|code)>|<br\s*\/?>|&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,6});/g;

  function entity(name) {
    if (name[0] === "#") {
      const hex = name[1] === "x" || name[1] === "X";
      const code = parseInt(name.slice(hex ? 2 : 1), hex ? 16 : 10);
      const valid = code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff);
      return valid ? String.fromCodePoint(code) : null;
    }
    return Object.prototype.hasOwnProperty.call(ENTITIES, name) ? ENTITIES[name] : null;
  }

  // A date (2026-12-09) is kept on one line: browsers would break it after a hyphen.
  const DATE = /\d{4}-\d{1,2}-\d{1,2}/g;

  function plain(parent, text) {
    let last = 0;
    DATE.lastIndex = 0;
    for (let m = DATE.exec(text); m !== null; m = DATE.exec(text)) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      const date = document.createElement("span");
      date.className = "date";
      date.textContent = m[0];
      parent.appendChild(date);
      last = DATE.lastIndex;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function rich(parent, source) {
    const stack = [parent];
    let text = "";
    let last = 0;
    const flush = () => {
      if (text) plain(stack[stack.length - 1], text);
      text = "";
    };
    MARKUP.lastIndex = 0;
    for (let m = MARKUP.exec(source); m !== null; m = MARKUP.exec(source)) {
      text += source.slice(last, m.index);
      last = MARKUP.lastIndex;
      if (m[3] !== undefined) {
        const decoded = entity(m[3]);
        text += decoded === null ? m[0] : decoded;
        continue;
      }
      flush();
      const top = stack[stack.length - 1];
      if (m[2] === undefined) {
        top.appendChild(document.createElement("br"));
      } else if (!m[1]) {
        const node = document.createElement(m[2]);
        top.appendChild(node);
        stack.push(node);
      } else if (stack.length > 1 && top.localName === m[2]) {
        stack.pop();
      }
    }
    text += source.slice(last);
    flush();
  }

  const escapeText = (text) =>
    text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

  // ---- messages -------------------------------------------------------------------------

  function clock(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return "";
    return date.toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit" });
  }

  function image(sha) {
    if (!state.images.has(sha)) {
      const loading = api(`/api/files/${sha}`, { cache: "default" }) // files never change
        .then((response) => {
          if (!response.ok) throw new Error(`file ${response.status}`);
          return response.blob();
        })
        .then((blob) => URL.createObjectURL(blob));
      loading.catch(() => state.images.delete(sha));
      state.images.set(sha, loading);
    }
    return state.images.get(sha);
  }

  function photoGrid(hashes) {
    const grid = document.createElement("div");
    grid.className = "photos";
    // One picture (a chart, say) is shown whole in its own proportions; an album is cropped
    // to even tiles, each opening whole when tapped.
    const single = hashes.length === 1;
    if (single) grid.classList.add("single");
    for (const sha of hashes) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "photo";
      button.setAttribute("aria-label", "查看大图");
      const img = document.createElement("img");
      img.alt = "照片";
      img.dataset.sha = sha;
      button.appendChild(img);
      img.addEventListener("load", () => {
        if (single) button.style.aspectRatio = `${img.naturalWidth} / ${img.naturalHeight}`;
        keepAtEnd();
      });
      image(sha).then(
        (url) => {
          img.src = url;
        },
        () => {
          img.alt = "照片加载失败";
        },
      );
      button.addEventListener("click", () => image(sha).then(openViewer, () => {}));
      grid.appendChild(button);
    }
    return grid;
  }

  async function download(doc) {
    try {
      const response = await api(`/api/files/${doc.sha256}`);
      if (!response.ok) throw new Error(`file ${response.status}`);
      const url = URL.createObjectURL(await response.blob());
      const link = document.createElement("a");
      link.href = url;
      link.download = doc.name;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (error) {
      if (!(error instanceof SignedOut)) notify("文件下载失败，请稍后再试。", true);
    }
  }

  function documentLink(doc) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "doc";
    const name = document.createElement("span");
    name.className = "doc-name";
    plain(name, doc.name);
    const action = document.createElement("span");
    action.className = "doc-action";
    action.textContent = "下载";
    button.append(name, action);
    button.setAttribute("aria-label", `下载 ${doc.name}`);
    button.addEventListener("click", () => download(doc));
    return button;
  }

  function keyboard(rows) {
    const box = document.createElement("div");
    box.className = "keyboard";
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", "可选操作");
    for (const row of rows) {
      const line = document.createElement("div");
      line.className = "row";
      for (const [label, payload] of row) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "key";
        button.textContent = label;
        button.addEventListener("click", () => press(button, payload));
        line.appendChild(button);
      }
      box.appendChild(line);
    }
    return box;
  }

  function build(message) {
    const mine = message.from === "me";
    const article = document.createElement("article");
    article.className = `msg ${mine ? "me" : "bot"}`;
    article.dataset.id = message.id;
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    const speaker = document.createElement("span");
    speaker.className = "visually-hidden";
    speaker.textContent = mine ? "我：" : "品检：";
    bubble.appendChild(speaker);
    if (message.photos) bubble.appendChild(photoGrid(message.photos));
    if (message.preview) {
      const img = document.createElement("img");
      img.src = message.preview;
      img.alt = "正在上传的照片";
      img.className = "preview";
      const grid = document.createElement("div");
      grid.className = "photos";
      grid.appendChild(img);
      bubble.appendChild(grid);
    }
    if (message.document) bubble.appendChild(documentLink(message.document));
    if (message.text) {
      const text = document.createElement("div");
      text.className = "text";
      rich(text, message.text);
      bubble.appendChild(text);
    }
    const meta = document.createElement("time");
    meta.className = "meta";
    meta.dateTime = message.at;
    meta.textContent = message.note || clock(message.at);
    bubble.appendChild(meta);
    article.appendChild(bubble);
    if (message.buttons && message.buttons.length) article.appendChild(keyboard(message.buttons));
    return article;
  }

  // The view follows new messages while the person is at the end, or has just asked for
  // something (a reply to one's own tap or message is always brought into view). Someone who
  // scrolled up to read keeps their place, and "新消息 ↓" takes them to what arrived.

  const nearEnd = () => el.log.scrollHeight - el.log.scrollTop - el.log.clientHeight < 120;

  function scrollToEnd() {
    el.log.scrollTop = el.log.scrollHeight;
    state.stick = true;
    el.jump.hidden = true;
  }

  function keepAtEnd() {
    // content grew (a photo loaded) or the view shrank (the on-screen keyboard opened)
    if (state.stick) el.log.scrollTop = el.log.scrollHeight;
  }

  function follow() {
    state.stick = true;
  }

  function arrived(added) {
    if (state.stick) scrollToEnd();
    else if (added) el.jump.hidden = false;
  }

  // Shows one message; true when it is a new one (not an edit or the confirmation of a
  // message the person sent).
  function apply(message) {
    if (message.seq <= state.lastSeq) return false;
    state.lastSeq = message.seq;
    el.log.dataset.seq = String(message.seq);
    const node = build(message);
    const pending = message.key ? state.pending.get(message.key) : undefined;
    const existing = state.messages.get(message.id);
    if (pending) {
      state.pending.delete(message.key);
      if (pending.dataset.preview) URL.revokeObjectURL(pending.dataset.preview);
      pending.replaceWith(node);
    } else if (existing) {
      existing.replaceWith(node); // an edit: the message changes in place
    } else {
      el.log.appendChild(node);
    }
    state.messages.set(message.id, node);
    return !pending && !existing;
  }

  function showPending(id, message) {
    const node = build(Object.assign({ id: `pending-${id}`, from: "me", note: "发送中…" }, message));
    node.classList.add("pending");
    if (message.preview) node.dataset.preview = message.preview;
    state.pending.set(id, node);
    el.log.appendChild(node);
    scrollToEnd();
    return node;
  }

  function failed(node) {
    const meta = node.querySelector(".meta");
    if (meta) meta.textContent = "未发出";
  }

  // ---- notices --------------------------------------------------------------------------

  let toastTimer = 0;

  function notify(text, alert = false, markup = false) {
    el.toast.replaceChildren();
    if (markup) rich(el.toast, text);
    else el.toast.textContent = text;
    el.toast.classList.toggle("alert", alert);
    el.toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => {
      el.toast.hidden = true;
    }, alert ? 6000 : 3500);
  }

  function setStatus(online) {
    el.status.textContent = online ? "已连接" : "连接中断，正在重连…";
    el.status.classList.toggle("offline", !online);
  }

  // ---- sending --------------------------------------------------------------------------

  async function post(body, id = newId()) {
    const json = JSON.stringify(Object.assign({ id }, body));
    for (let attempt = 0; ; attempt += 1) {
      try {
        const response = await api("/api/send", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: json,
        });
        if (response.ok) return true;
        if (response.status < 500) {
          notify((await explanation(response)) || `消息没有发出（${response.status}）。`, true);
          return false;
        }
      } catch (error) {
        if (error instanceof SignedOut) return false;
      }
      if (attempt >= 4) {
        notify("网络不通，消息没有发出，请稍后再试。", true);
        return false;
      }
      await sleep(500 * 2 ** attempt); // the same id again: the server handles it only once
    }
  }

  function sendText(text) {
    const id = newId();
    const node = showPending(id, { text: escapeText(text), at: new Date().toISOString() });
    post({ kind: "text", text }, id).then((ok) => ok || failed(node));
  }

  // A ☰ menu tap: the chat shows the menu's words (the server echoes the same label).
  function sendCommand(command, label) {
    const id = newId();
    const node = showPending(id, { text: escapeText(label), at: new Date().toISOString() });
    post({ kind: "command", command }, id).then((ok) => ok || failed(node));
  }

  // Buttons that ask for a photo open the camera (or file picker) right away: the flows'
  // "📷 照片" of an item (P:…) and a task's "已整改，上传照片" (K:F:…).
  const ASKS_FOR_PHOTO = /^(P|K:F):/;

  function press(button, payload) {
    if (ASKS_FOR_PHOTO.test(payload)) el.camera.click();
    follow();
    button.setAttribute("aria-busy", "true");
    post({ kind: "button", payload }).finally(() => button.removeAttribute("aria-busy"));
  }

  async function upload(file) {
    const id = newId();
    const preview = file.type.startsWith("image/") ? URL.createObjectURL(file) : "";
    const node = showPending(id, {
      preview,
      text: preview ? "" : escapeText(file.name),
      at: new Date().toISOString(),
    });
    const form = new FormData();
    form.append("size", String(file.size));
    form.append("name", file.name || "photo.jpg");
    // A file over the limit is not sent at all: the server answers from its declared size.
    if (file.size <= state.maxUpload) form.append("file", file, file.name || "photo.jpg");
    for (let attempt = 0; ; attempt += 1) {
      try {
        const response = await api("/api/upload", {
          method: "POST",
          headers: { "X-Message-Id": id },
          body: form,
        });
        if (response.ok) return;
        if (response.status < 500) break;
      } catch (error) {
        if (error instanceof SignedOut) return;
      }
      if (attempt >= 3) break;
      await sleep(800 * 2 ** attempt);
    }
    failed(node);
    notify("照片没有上传成功，请稍后再试。", true);
  }

  async function uploadAll(input) {
    const files = Array.from(input.files || []);
    input.value = "";
    for (const file of files) await upload(file);
  }

  // ---- receiving ------------------------------------------------------------------------

  function onHistory(data) {
    if (data.reset) {
      for (const node of state.messages.values()) node.remove();
      state.messages.clear();
      state.lastSeq = 0;
    }
    if (state.lastSeq === 0) follow(); // the page was just opened: show the newest
    let added = false;
    for (const message of data.messages) added = apply(message) || added;
    arrived(added);
    if (state.lastSeq === 0 && !state.greeted) {
      state.greeted = true; // a first visit: the bot says hello (once per link)
      post({ kind: "command", command: "start" }, "welcome");
    }
  }

  function dispatch(block) {
    let name = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) name = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    if (data.length === 0) return;
    const value = JSON.parse(data.join("\n"));
    if (name === "history") {
      onHistory(value);
    } else if (name === "message") {
      if (value.from === "me") follow();
      arrived(apply(value));
    } else if (name === "notice") {
      notify(value.text, value.alert, true);
    }
  }

  async function readEvents(body) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      state.lastActivity = Date.now();
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  async function listen() {
    let delay = 1000;
    while (!state.signedOut) {
      const controller = new AbortController();
      state.lastActivity = Date.now();
      const watchdog = setInterval(() => {
        // The server sends a heartbeat every 15 s; silence means a dead connection.
        if (Date.now() - state.lastActivity > 45000) controller.abort();
      }, 5000);
      try {
        const response = await api(`/api/events?after=${state.lastSeq}`, {
          signal: controller.signal,
        });
        if (response.ok && response.body) {
          setStatus(true);
          delay = 1000;
          await readEvents(response.body);
        }
      } catch (error) {
        if (error instanceof SignedOut) return;
      } finally {
        clearInterval(watchdog);
      }
      if (state.signedOut) return;
      setStatus(false);
      await sleep(delay);
      delay = Math.min(delay * 2, 15000);
    }
  }

  // ---- the page's controls --------------------------------------------------------------

  function openViewer(url) {
    el.viewerImage.src = url;
    el.viewer.showModal();
  }

  function toggleMenu(open = el.menu.hidden) {
    el.menu.hidden = !open;
    el.menuButton.setAttribute("aria-expanded", String(open));
  }

  function showCommands(commands) {
    el.commands.replaceChildren();
    for (const { command, label, word } of commands) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "menu-item";
      button.textContent = label;
      const hint = document.createElement("span");
      hint.className = "cmd";
      hint.textContent = word; // what to type for it
      button.appendChild(hint);
      button.addEventListener("click", () => {
        toggleMenu(false);
        sendCommand(command, label);
      });
      el.commands.appendChild(button);
    }
  }

  function resizeInput() {
    el.text.style.height = "auto";
    el.text.style.height = `${Math.min(el.text.scrollHeight + 2, 140)}px`;
  }

  function wire() {
    el.composer.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = el.text.value.trim();
      if (!text) return;
      el.text.value = "";
      resizeInput();
      sendText(text);
    });
    el.text.addEventListener("keydown", (event) => {
      // Enter sends; Shift+Enter is a new line; never while an IME is composing (Chinese input)
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        el.composer.requestSubmit();
      }
    });
    el.text.addEventListener("input", resizeInput);
    el.log.addEventListener("scroll", () => {
      state.stick = nearEnd();
      if (state.stick) el.jump.hidden = true;
    });
    new ResizeObserver(keepAtEnd).observe(el.log);
    el.jump.addEventListener("click", scrollToEnd);
    el.menuButton.addEventListener("click", () => toggleMenu());
    el.cameraButton.addEventListener("click", () => el.camera.click());
    el.galleryButton.addEventListener("click", () => {
      toggleMenu(false);
      el.gallery.click();
    });
    el.camera.addEventListener("change", () => uploadAll(el.camera));
    el.gallery.addEventListener("change", () => uploadAll(el.gallery));
    el.viewerClose.addEventListener("click", () => el.viewer.close());
    el.viewer.addEventListener("click", (event) => {
      if (event.target === el.viewer) el.viewer.close();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !el.menu.hidden) toggleMenu(false);
    });
    // A link opened in a tab that already shows the page changes only the fragment.
    window.addEventListener("hashchange", () => {
      if (/(?:^#|&)t=/.test(location.hash)) location.reload();
    });
  }

  async function start() {
    wire();
    state.token = readToken();
    if (!state.token) {
      showGate("请用专属链接打开", el.gateText.textContent);
      return;
    }
    el.status.textContent = "连接中…";
    for (;;) {
      try {
        const response = await api("/api/me");
        if (!response.ok) throw new Error(`me ${response.status}`);
        const me = await response.json();
        el.who.textContent = me.name;
        state.maxUpload = me.max_upload_bytes;
        showCommands(me.commands);
        break;
      } catch (error) {
        if (error instanceof SignedOut) return;
        setStatus(false);
        await sleep(2000);
      }
    }
    el.composer.hidden = false;
    listen();
  }

  start();
})();
