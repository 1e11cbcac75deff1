// Service worker of the semground page: keeps the app's own files so that the page opens
// offline after the first visit. Requests to other origins are left alone (the page makes
// none). The weights are cached by the page itself, in the Cache API, with progress shown.

const APP_CACHE = 'semground-app-v1';
const APP_FILES = ['./', 'index.html', 'app.js', 'style.css', 'semground.js', 'semground_bg.wasm'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(APP_CACHE).then((cache) => cache.addAll(APP_FILES)));
  self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

// Network first, so a rebuilt page is picked up at once; the cached copy when offline.
self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (url.pathname.includes('/weights/')) return;
  event.respondWith((async () => {
    const cache = await caches.open(APP_CACHE);
    try {
      const response = await fetch(event.request);
      if (response.ok) await cache.put(event.request, response.clone());
      return response;
    } catch (error) {
      const cached = await cache.match(event.request, { ignoreSearch: true });
      if (cached) return cached;
      throw error;
    }
  })());
});
