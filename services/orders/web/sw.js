// The shopper app reopens without a network: its shell and who is signed in come from the last
// copy (ordering itself needs the network: prices and stock are live).
importScripts("/app/common/shell-sw.js");
self.linliShell({
  cache: "linli-shopper:v1",
  shell: [
    "/app/", "/app/shopper.js", "/app/news.js", "/app/deals.js", "/app/shopper.css", "/app/manifest.webmanifest",
    "/app/common/linli.js", "/app/common/map.js", "/app/common/linli.css", "/app/common/codes.js", "/app/common/install.js",
    "/app/common/icons/shopper.svg", "/app/common/icons/shopper-192.png", "/app/config.json",
  ],
  answers: ["/auth/me"],
});
