// 品检 service worker: keeps the page's own files so that the chat opens without a connection.
// Only the page and its files are cached (never the API, never anything from elsewhere); each
// is fetched fresh while online and the copy is used only when the network fails.
"use strict";

const CACHE = "pinjian-page-v1";
const PAGE = "/chat";
const FILES = [
  PAGE,
  "/static/chat.js",
  "/static/chat.css",
  "/static/icon.svg",
  "/static/manifest.webmanifest",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(FILES))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

// The key a request is kept under: "/" and "/chat" are the same page.
function cacheKey(url) {
  if (url.pathname === "/" || url.pathname === PAGE) return PAGE;
  return FILES.includes(url.pathname) ? url.pathname : null;
}

async function freshOrKept(request, key) {
  const cache = await caches.open(CACHE);
  if (!self.navigator.onLine) {
    const kept = await cache.match(key);
    if (kept) return kept;
  }
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(key, response.clone());
    return response;
  } catch (error) {
    const kept = await cache.match(key);
    if (kept) return kept;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  const key = cacheKey(url);
  if (key) event.respondWith(freshOrKept(event.request, key));
});
