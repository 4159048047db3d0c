// The service worker of an installable app (the shopper app, the rider app), imported by the
// app's own sw.js: it keeps the app shell, and the few answers the app needs to draw itself, so
// the app reopens without a network. Network first, so an online app always gets today's files;
// the copy is used only when the network fails. Nothing marked no-store (the codes' QR images)
// is kept, and nothing but GETs of this origin is touched: steps, streams and other services
// pass straight through (the rider app's own queue resends its steps).
/* eslint-env serviceworker */
self.linliShell = function linliShell({ cache, shell, answers = [] }) {
  const shellPaths = new Set(shell.map((path) => new URL(path, self.location.origin).pathname));

  self.addEventListener("install", (event) => {
    event.waitUntil(caches.open(cache).then((c) => c.addAll(shell)).then(keepAnswers).then(() => self.skipWaiting()));
  });

  self.addEventListener("activate", (event) => {
    const mine = cache.split(":")[0];
    event.waitUntil(caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith(`${mine}:`) && k !== cache).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()));
  });

  self.addEventListener("fetch", (event) => {
    const request = event.request;
    const url = new URL(request.url);
    if (url.origin !== self.location.origin) return;
    if (url.pathname === "/auth/session" && (request.method === "DELETE" || request.method === "POST")) {
      // Signing out forgets the kept answers: the next person on this phone must not see them.
      // Signing in keeps them at once, so the app reopens offline even if it was opened only once.
      const after = request.method === "DELETE" ? forgetAnswers : keepAnswers;
      event.respondWith(fetch(request).then(async (response) => { if (response.ok) await after(); return response; }));
      return;
    }
    if (request.method !== "GET" || (request.headers.get("accept") || "").includes("text/event-stream")) return;
    // Every file of the consoles (/app/…), not only those listed: a module added later is kept too.
    const kept = request.mode === "navigate" || url.pathname.startsWith("/app/") || shellPaths.has(url.pathname)
      || answers.includes(url.pathname);
    if (kept) event.respondWith(networkFirst(request));
  });

  async function networkFirst(request) {
    const store = await caches.open(cache);
    try {
      const response = await fetch(request);
      if (response.ok && !/no-store/.test(response.headers.get("cache-control") || "")) {
        await store.put(request, response.clone());
      }
      return response;
    } catch (error) {
      // The services answer with "Vary: Origin" (CORS); a file is the same whoever asks.
      const copy = await store.match(request, { ignoreSearch: true, ignoreVary: true });
      if (copy) return copy;
      throw error;
    }
  }

  /** Fetch and keep each answer the app draws itself from, as far as the network and the sign-in allow. */
  async function keepAnswers() {
    const store = await caches.open(cache);
    await Promise.all(answers.map(async (path) => {
      try {
        const response = await fetch(path, { credentials: "include", headers: { Accept: "application/json" } });
        if (response.ok) await store.put(path, response);
      } catch { /* offline or signed out: kept on the next visit */ }
    }));
  }

  async function forgetAnswers() {
    const store = await caches.open(cache);
    for (const path of answers) await store.delete(new URL(path, self.location.origin).href, { ignoreSearch: true, ignoreVary: true });
  }
};
