// Service worker: keeps the app shell so the page works offline once loaded.
// Network first (a rebuilt page is picked up at once), the cache when the network fails.
// Only this origin's GET requests pass through here; nothing else is ever fetched.

const CACHE = 'ecg-digitizer-v1';
const SHELL = [
  './',
  'index.html',
  'style.css',
  'app.js',
  'bridge.js',
  'draw.js',
  'worker.js',
  'pkg/ecg_digitizer.js',
  'pkg/ecg_digitizer_bg.wasm',
];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          event.waitUntil(caches.open(CACHE).then((cache) => cache.put(request, copy)));
        }
        return response;
      })
      // The worker imports the glue as pkg/ecg_digitizer.js?instance=N after a panic.
      .catch(() =>
        caches.match(request, { ignoreSearch: true }).then((hit) => hit ?? Response.error()),
      ),
  );
});
