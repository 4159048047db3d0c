// Registers an installable app's service worker (data-worker on this script's tag). A browser
// offers service workers only over HTTPS or on localhost; elsewhere the app simply stays online-only.
(function register() {
  const worker = document.currentScript && document.currentScript.dataset.worker;
  if (!worker || !("serviceWorker" in navigator)) return;
  window.addEventListener("load", () => {
    navigator.serviceWorker.register(worker).catch((error) => console.warn("no offline copy of this app:", error));
  });
})();
