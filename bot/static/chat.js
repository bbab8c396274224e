// 品检 web chat. Plain JavaScript, no build step, no external resources.
//
// Sign-in: the personal link carries the token in its fragment (#t=…), which browsers never
// send to a server. The page keeps it for this tab (sessionStorage; localStorage remembers the
// latest one for bookmarks) and sends it as a Bearer header on every request.
// Messages arrive as server-sent events read with fetch (EventSource cannot send a header);
// each carries its transcript position `seq`, so a reconnect asks only for what it missed.
//
// Offline: everything the person sends goes through a queue kept on the device (IndexedDB), sent
// in order whenever there is a connection; a reload or a closed tab loses nothing queued (the
// service worker, sw.js, serves the page itself without a connection). While the queue is not
// empty the inspection goes on locally from the standard the page keeps (/api/inspections):
// answers are queued as `Q:` payloads naming their item (bot/flows/queued.py).
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
    timeZone: undefined, // message times on this clock (/api/me); the device's until known
    messages: new Map(), // shown message id -> element
    pending: new Map(), // page message id -> element of a message not yet confirmed
    images: new Map(), // sha256 -> Promise of an object URL
    signedOut: false,
    greeted: false,
    stick: true, // follow new messages unless the person scrolled up to read
    lastActivity: Date.now(),
    replaced: false, // the server closed this page's stream for a newer one of the person's
    refusal: "", // the server's words for the last request it refused
    queue: [], // what is waiting to be sent, oldest first (mirrors IndexedDB)
    delivered: new Map(), // record id -> resolve, for a tap waiting for its send
    offline: !navigator.onLine, // no connection, or the last send failed for want of one
    inspections: [], // the open inspections with their standard (answered offline from this)
    current: null, // {insp, no}: the item shown last (by the server or locally)
    noteFor: null, // {insp, no}: the item whose 📝 备注 was tapped offline
    connected: false, // the event stream is open
    views: [], // the newest messages as received, kept for a page opened offline
    unloaded: [], // photos that could not be fetched (offline): loaders to run again
  };

  class SignedOut extends Error {}

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

  // ---- the device's store (IndexedDB) ---------------------------------------------------
  // "queue": records to send, in order (key n); "keep": the standard and where the person is.

  let opened = null;

  function openStore() {
    if (!opened) {
      opened = new Promise((resolve, reject) => {
        const request = indexedDB.open("pinjian", 1);
        request.onupgradeneeded = () => {
          request.result.createObjectStore("queue", { keyPath: "n", autoIncrement: true });
          request.result.createObjectStore("keep");
        };
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      opened.catch(() => {
        opened = null;
      });
    }
    return opened;
  }

  async function stored(name, mode, work) {
    const db = await openStore();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(name, mode);
      const request = work(tx.objectStore(name));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }

  const keep = (key, value) =>
    stored("keep", "readwrite", (s) => s.put(value, key)).catch(() => {});
  const kept = (key) => stored("keep", "readonly", (s) => s.get(key)).catch(() => undefined);

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
    const shown = { hour: "2-digit", minute: "2-digit", timeZone: state.timeZone };
    return date.toLocaleTimeString("zh-CN", shown);
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
      const load = () =>
        image(sha).then(
          (url) => {
            img.src = url;
          },
          () => {
            img.alt = "照片加载失败";
            state.unloaded.push(load); // tried again once the chat is connected
          },
        );
      load();
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
        button.dataset.payload = payload;
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
      // Something queued offline takes its place in the server's order, at the end.
      if (pending.classList.contains("queued")) {
        pending.remove();
        el.log.appendChild(node);
      } else {
        pending.replaceWith(node);
      }
    } else if (existing) {
      existing.replaceWith(node); // an edit: the message changes in place
    } else {
      el.log.appendChild(node);
    }
    state.messages.set(message.id, node);
    keepView(message);
    return !pending && !existing;
  }

  // The newest messages, kept on the device: a page opened offline shows them.
  const KEPT_VIEWS = 150;
  let viewsTimer = 0;

  function keepView(message) {
    state.views.push(message);
    if (state.views.length > KEPT_VIEWS) state.views.splice(0, state.views.length - KEPT_VIEWS);
    clearTimeout(viewsTimer);
    const transcript = { token: state.token, views: state.views };
    viewsTimer = setTimeout(() => keep("transcript", transcript), 300);
  }

  async function showKept() {
    const transcript = await kept("transcript");
    if (!transcript || transcript.token !== state.token) return;
    follow();
    for (const message of transcript.views) apply(message);
    arrived(false);
  }

  function showPending(id, message, queued = false) {
    const note = queued ? "待发送" : "发送中…";
    const at = new Date().toISOString();
    const node = build(Object.assign({ id: `pending-${id}`, from: "me", note, at }, message));
    node.classList.add("pending");
    if (queued) node.classList.add("queued");
    if (message.preview) node.dataset.preview = message.preview;
    state.pending.set(id, node);
    el.log.appendChild(node);
    scrollToEnd();
    return node;
  }

  function failed(node) {
    const meta = node.querySelector(".meta");
    if (meta) meta.textContent = "未发出";
    node.classList.add("failed");
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

  // The connection, and how much is waiting to be sent ("离线 · 3 条待发送").
  function setStatus(connected = state.connected) {
    state.connected = connected;
    const waiting = state.queue.filter((record) => record.shown !== undefined).length;
    let text = connected ? "已连接" : "连接中断，正在重连…";
    if (state.offline) text = "离线";
    if (waiting) text += ` · ${waiting} 条待发送`;
    el.status.textContent = text;
    el.status.classList.toggle("offline", !connected || state.offline);
    for (const node of state.pending.values()) {
      const meta = node.querySelector(".meta");
      if (meta && !node.classList.contains("failed")) {
        meta.textContent = state.offline ? "待发送" : "发送中…";
      }
    }
  }

  // ---- sending --------------------------------------------------------------------------
  // Everything the person sends is a record of the queue: kept on the device first, then sent
  // oldest first. Each request has its own id, so a resend (after a lost answer, a reload) is
  // handled only once by the server. A record with `shown` is counted as 待发送 and shown again
  // after a reload; `offline` marks one made without a connection.

  const saving = new Map(); // record id -> Promise of the record kept on the device
  let flushing = false;
  const waits = new Set();

  // Waits `ms`, or less if the connection comes back (`wakeUp`).
  function pause(ms) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        waits.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waits.add(done);
    });
  }

  function wakeUp() {
    for (const done of Array.from(waits)) done();
  }

  function enqueue(record) {
    if (state.offline) record.offline = true;
    state.queue.push(record);
    const done = new Promise((resolve) => state.delivered.set(record.id, resolve));
    saving.set(
      record.id,
      stored("queue", "readwrite", (s) => s.add(record)).then(
        (n) => {
          record.n = n;
        },
        () => {}, // no storage (private mode): the record lives as long as the page
      ),
    );
    setStatus();
    flush();
    return done;
  }

  // "sent", "refused" (the server will never take it) or "failed" (try again later). A
  // refusal's own words (ill-formed text, the upload limit) are kept for `sent` to show.
  async function request(path, options) {
    try {
      const response = await api(path, options);
      if (response.ok) return "sent";
      if (response.status >= 500) return "failed";
      state.refusal = await explanation(response);
      return "refused";
    } catch (error) {
      if (error instanceof SignedOut) throw error;
      return "failed";
    }
  }

  function sendJson(body) {
    return request("/api/send", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  function sendPhoto(record) {
    const form = new FormData();
    form.append("size", String(record.size));
    form.append("name", record.name);
    // A file over the limit is not sent at all: the server answers from its declared size.
    if (record.file) form.append("file", record.file, record.name);
    return request("/api/upload", {
      method: "POST",
      headers: { "X-Message-Id": record.id },
      body: form,
    });
  }

  // A record's requests, in order. Queued answers, photos and notes name their item (`Q:`).
  async function deliver(record) {
    const item = record.insp ? `Q:${record.insp}:${record.no}` : "";
    if (record.type === "text") return sendJson({ id: record.id, kind: "text", text: record.text });
    if (record.type === "command") {
      return sendJson({ id: record.id, kind: "command", command: record.command });
    }
    if (record.type === "press") {
      return sendJson({ id: record.id, kind: "button", payload: record.payload });
    }
    if (record.type === "answer") {
      const level = record.code === "NA" ? "NA" : `L:${record.code}`;
      const payload = `${item}:${level}:${record.base}`;
      return sendJson({ id: record.id, kind: "button", payload });
    }
    if (item) {
      const open = `${item}:${record.type === "note" ? "M" : "O"}`;
      const opened = await sendJson({ id: record.openId, kind: "button", payload: open });
      if (opened !== "sent") return opened;
    }
    if (record.type === "note") return sendJson({ id: record.id, kind: "text", text: record.text });
    return sendPhoto(record);
  }

  async function flush() {
    if (flushing) return;
    flushing = true;
    try {
      let delay = 1000;
      while (state.queue.length && !state.signedOut) {
        const record = state.queue[0];
        await saving.get(record.id);
        if (!navigator.onLine) {
          state.offline = true;
          setStatus();
          await pause(15000);
          continue;
        }
        const result = await deliver(record);
        if (result === "failed") {
          state.offline = true;
          setStatus();
          await pause(delay);
          delay = Math.min(delay * 2, 15000);
          continue;
        }
        delay = 1000;
        state.offline = false;
        state.queue.shift();
        saving.delete(record.id);
        if (record.n !== undefined) {
          await stored("queue", "readwrite", (s) => s.delete(record.n)).catch(() => {});
        }
        sent(record, result === "sent");
      }
      if (!state.queue.length) backOnline();
    } catch (error) {
      if (!(error instanceof SignedOut)) throw error;
    } finally {
      flushing = false;
      setStatus();
    }
  }

  function sent(record, ok) {
    state.delivered.get(record.id)?.(ok);
    state.delivered.delete(record.id);
    const node = state.pending.get(record.id);
    if (!ok) {
      if (node) failed(node);
      state.pending.delete(record.id);
      const fallback = record.type === "photo" ? "照片没有上传成功。" : "消息没有发出。";
      notify(state.refusal || fallback, true);
      state.refusal = "";
    } else if (node && (record.type === "answer" || record.type === "press")) {
      // no echo comes for a tap: the server's own messages show what it did
      node.remove();
      state.pending.delete(record.id);
    }
  }

  function sendText(text) {
    const id = newId();
    const shown = escapeText(text);
    const note = state.noteFor; // 📝 备注 was tapped on an item shown offline
    state.noteFor = null;
    showPending(id, { text: shown }, state.offline);
    if (note) {
      const where = { insp: note.insp, no: note.no, openId: newId(), offline: true };
      enqueue(Object.assign({ type: "note", id, text, shown }, where));
      bringCardDown();
    } else {
      enqueue({ type: "text", id, text, shown });
    }
  }

  // A ☰ menu tap: the chat shows the menu's words (the server echoes the same label).
  function sendCommand(command, label) {
    const id = newId();
    const shown = escapeText(label);
    showPending(id, { text: shown }, state.offline);
    enqueue({ type: "command", id, command, shown });
  }

  // Buttons that ask for a photo open the camera (or file picker) right away: the flows'
  // "📷 照片" of an item (P:…) and a task's "已整改，上传照片" (K:F:…).
  const ASKS_FOR_PHOTO = /^(P|K:F):/;

  function press(button, payload) {
    if (answeredLocally(button, payload)) return;
    if (ASKS_FOR_PHOTO.test(payload)) el.camera.click();
    follow();
    const id = newId();
    const record = { type: "press", id, payload };
    if (state.offline) {
      record.shown = escapeText(button.textContent);
      showPending(id, { text: record.shown }, true);
    }
    button.setAttribute("aria-busy", "true");
    enqueue(record).finally(() => button.removeAttribute("aria-busy"));
    if (state.offline) goOnFrom(button, payload);
  }

  function upload(file) {
    const id = newId();
    const preview = file.type.startsWith("image/") ? URL.createObjectURL(file) : "";
    const shown = preview ? "" : escapeText(file.name);
    showPending(id, { preview, text: shown }, state.offline);
    const name = file.name || "photo.jpg";
    const record = { type: "photo", id, name, size: file.size, shown };
    record.file = file.size <= state.maxUpload ? file : null;
    const where = offlineMode() ? state.current : null;
    if (where) Object.assign(record, { insp: where.insp, no: where.no, openId: newId() });
    if (where) record.offline = true;
    enqueue(record);
  }

  function uploadAll(input) {
    const files = Array.from(input.files || []);
    input.value = "";
    for (const file of files) upload(file);
    if (offlineMode()) bringCardDown();
  }

  // ---- the inspection offline -----------------------------------------------------------
  // The page keeps the person's open inspections (items, level buttons, answers as the server
  // has them). Offline, or while answers given offline are still queued, a tap on an item's
  // level answers it here: the answer is queued, the next unanswered item is shown from the
  // standard. Items that lost points get their rectification task once the server has them.

  const offlineMode = () => state.offline || state.queue.some((record) => record.offline);
  const ITEM = /^(L|NA|P|M|V|X|F|XS|TR|TD|TM|TOK):\d+:(\d+):(\d+)(?::(\d+))?/;

  function itemOf(payload) {
    const m = ITEM.exec(payload);
    if (!m) return null;
    const inspection = state.inspections.find((i) => i.id === Number(m[2]));
    const item = inspection?.items.find((i) => i.no === Number(m[3]));
    if (!item) return null;
    return { action: m[1], level: m[4], inspection, item };
  }

  // The item a bot message with buttons is about (or null: a list, the submit screen…).
  function noteCurrent(message) {
    if (message.from === "me" || !message.buttons?.length) return;
    const payload = message.buttons.flat().map(([, p]) => p).find((p) => ITEM.test(p));
    const found = payload ? ITEM.exec(payload) : null;
    state.current = found ? { insp: Number(found[2]), no: Number(found[3]) } : null;
    keep("current", state.current);
    if (found) refreshInspections();
  }

  function answeredLocally(button, payload) {
    const found = offlineMode() || button.closest(".local") ? itemOf(payload) : null;
    if (!found || !["L", "NA", "P", "M"].includes(found.action)) return false;
    follow();
    const { inspection, item } = found;
    state.current = { insp: inspection.id, no: item.no };
    keep("current", state.current);
    if (found.action === "P") {
      el.camera.click();
      return true;
    }
    if (found.action === "M") {
      state.noteFor = state.current;
      showLocal(`请输入第 ${item.no} 项的备注（直接发送文字）：`, []);
      return true;
    }
    const code = found.action === "NA" ? "NA" : found.level;
    const label = code === "NA" ? "不适用" : item.levels[Number(code)];
    const id = newId();
    const shown = escapeText(`第 ${item.no} 项：${label}`);
    closeItem(inspection.id, item.no);
    showPending(id, { text: shown }, true);
    const where = { insp: inspection.id, no: item.no, offline: true };
    enqueue(Object.assign({ type: "answer", id, code, base: item.answer, shown }, where));
    item.answer = code;
    keep("inspections", state.inspections);
    showCard(inspection, nextItem(inspection, item.no));
    return true;
  }

  // 确认创建 of a task set-up tapped offline: the set-up is queued as it is, and the
  // inspection goes on with the next unanswered item.
  function goOnFrom(button, payload) {
    const found = itemOf(payload);
    if (!found || found.action !== "TOK") return;
    button.closest(".keyboard")?.remove();
    showCard(found.inspection, nextItem(found.inspection, found.item.no));
  }

  // The buttons of every message showing the item (answered offline) go.
  function closeItem(insp, no) {
    for (const key of el.log.querySelectorAll(".key[data-payload]")) {
      const m = ITEM.exec(key.dataset.payload);
      if (m && Number(m[2]) === insp && Number(m[3]) === no) key.closest(".keyboard")?.remove();
    }
  }

  function nextItem(inspection, after) {
    const items = inspection.items;
    const at = items.findIndex((i) => i.no === after) + 1;
    return items.slice(at).concat(items.slice(0, at)).find((i) => i.answer === "-");
  }

  function showLocal(text, buttons) {
    const at = new Date().toISOString();
    const node = build({ id: `local-${newId()}`, from: "bot", text, buttons, at, note: "离线" });
    node.classList.add("local");
    el.log.appendChild(node);
    scrollToEnd();
    return node;
  }

  // An item as the page shows it offline, with the same buttons as the flows' item message.
  function showCard(inspection, item) {
    for (const card of el.log.querySelectorAll(".local.card")) {
      card.querySelector(".keyboard")?.remove(); // an earlier item: answered, or left for later
    }
    const total = inspection.items.length;
    if (!item) {
      state.current = null;
      keep("current", null);
      const text =
        `<b>${escapeText(inspection.site)}：全部 ${total} 项都已作答（离线）</b>\n` +
        "联网后自动发送，再按聊天中的提示设置整改任务、提交检查。";
      showLocal(text, []).classList.add("card");
      return;
    }
    state.current = { insp: inspection.id, no: item.no };
    keep("current", state.current);
    const position = inspection.items.indexOf(item) + 1;
    const text =
      `<b>【${escapeText(item.section)}】第 ${position}/${total} 项</b>（离线）\n` +
      `<b>${item.no}. ${escapeText(item.content)}</b>\n检查方法：${escapeText(item.method)}`;
    const key = `${inspection.id}:${item.no}`;
    const rows = item.levels.map((label, index) => [[label, `L:0:${key}:${index}`]]);
    rows.push([
      ["不适用", `NA:0:${key}`],
      ["📷 照片", `P:0:${key}`],
      ["📝 备注", `M:0:${key}`],
    ]);
    showLocal(text, rows).classList.add("card");
  }

  // The item stays at hand below what was just attached to it.
  function bringCardDown() {
    const cards = el.log.querySelectorAll(".local.card");
    if (cards.length) el.log.appendChild(cards[cards.length - 1]);
    scrollToEnd();
  }

  // Everything queued was sent: the server's messages take over from the local ones.
  function backOnline() {
    if (!el.log.querySelector(".local")) return;
    for (const node of el.log.querySelectorAll(".local")) node.remove();
    state.noteFor = null;
    refreshInspections();
  }

  let refreshTimer = 0;

  function refreshInspections() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(async () => {
      if (!navigator.onLine) return;
      if (state.queue.some((record) => record.offline)) return; // not on the server yet
      try {
        const response = await api("/api/inspections");
        if (!response.ok) return;
        state.inspections = (await response.json()).inspections;
        keep("inspections", state.inspections);
      } catch {
        // offline: the kept copy stays
      }
    }, 300);
  }

  // After a reload: what is queued is shown (and sent), and offline the inspection goes on.
  async function restore() {
    state.inspections = (await kept("inspections")) || [];
    state.current = (await kept("current")) || null;
    let records = [];
    try {
      records = await stored("queue", "readonly", (s) => s.getAll());
    } catch {
      // no storage on this device
    }
    for (const record of records) {
      state.queue.push(record);
      if (record.type === "answer") closeItem(record.insp, record.no);
      if (record.shown === undefined) continue;
      const preview = record.file ? URL.createObjectURL(record.file) : "";
      showPending(record.id, { preview, text: record.shown }, true);
    }
    // the item shown last, else the one answered last (all answered: the closing card)
    const last = records.filter((record) => record.type === "answer").pop();
    const where = state.current || last;
    const inspection = where && state.inspections.find((i) => i.id === where.insp);
    if (offlineMode() && inspection) {
      const item = inspection.items.find((i) => i.no === where.no);
      showCard(inspection, item && item.answer === "-" ? item : nextItem(inspection, where.no));
    }
    setStatus(false);
  }

  // ---- receiving ------------------------------------------------------------------------

  function onHistory(data) {
    if (data.reset) {
      for (const node of state.messages.values()) node.remove();
      state.messages.clear();
      state.views = [];
      state.lastSeq = 0;
    }
    if (state.lastSeq === 0) follow(); // the page was just opened: show the newest
    let added = false;
    for (const message of data.messages) {
      added = apply(message) || added;
      noteCurrent(message);
    }
    // what is still queued comes after everything the server has
    for (const node of el.log.querySelectorAll(".queued, .local")) el.log.appendChild(node);
    arrived(added);
    if (state.lastSeq === 0 && !state.greeted) {
      state.greeted = true; // a first visit: the bot says hello (once per link)
      enqueue({ type: "command", id: "welcome", command: "start" });
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
      noteCurrent(value);
    } else if (name === "notice") {
      notify(value.text, value.alert, true);
    } else if (name === "closed") {
      state.replaced = true;
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
      if (!navigator.onLine) {
        setStatus(false);
        await pause(15000); // or until the connection is back
        continue;
      }
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
          state.offline = !navigator.onLine;
          setStatus(true);
          wakeUp(); // the queue goes now
          if (!state.queue.length) backOnline();
          for (const load of state.unloaded.splice(0)) load();
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
      if (state.replaced) {
        // The person has this chat open in several other tabs: connect again when this one
        // is looked at, or in a minute.
        state.replaced = false;
        await untilShownOr(60000);
        continue;
      }
      await pause(delay);
      delay = Math.min(delay * 2, 15000);
    }
  }

  function untilShownOr(ms) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        document.removeEventListener("visibilitychange", shown);
        window.removeEventListener("focus", done);
        resolve();
      };
      const shown = () => {
        if (document.visibilityState === "visible") done();
      };
      const timer = setTimeout(done, ms);
      document.addEventListener("visibilitychange", shown);
      window.addEventListener("focus", done);
    });
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
    window.addEventListener("offline", () => {
      state.offline = true;
      setStatus();
    });
    window.addEventListener("online", wakeUp);
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
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
    }
    el.status.textContent = "连接中…";
    for (;;) {
      let me;
      try {
        if (!navigator.onLine) throw new Error("offline");
        const response = await api("/api/me");
        if (!response.ok) throw new Error(`me ${response.status}`);
        me = await response.json();
        keep("me", me);
      } catch (error) {
        if (error instanceof SignedOut) return;
        me = await kept("me"); // offline: as the page last knew it, with its last messages
        if (me) await showKept();
      }
      if (me) {
        el.who.textContent = me.name;
        state.maxUpload = me.max_upload_bytes;
        state.timeZone = me.timezone; // the site's clock, whatever the device's zone
        showCommands(me.commands);
        break;
      }
      setStatus(false);
      await pause(2000);
    }
    el.composer.hidden = false;
    await restore();
    flush();
    refreshInspections();
    listen();
  }

  start();
})();
