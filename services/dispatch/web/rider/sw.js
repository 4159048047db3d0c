// The rider app reopens without a network: its shell, who is signed in and the deliveries in hand
// come from the last copy; the steps tapped meanwhile wait in the app's own queue (localStorage).
importScripts("/app/common/shell-sw.js");
self.linliShell({
  cache: "linli-rider:v1",
  shell: [
    "/app/rider/", "/app/rider/rider.js", "/app/rider/rider.css", "/app/rider/manifest.webmanifest",
    "/app/common/linli.js", "/app/common/map.js", "/app/common/linli.css", "/app/common/codes.js", "/app/common/install.js",
    "/app/common/icons/rider.svg", "/app/common/icons/rider-192.png", "/app/config.json",
  ],
  answers: ["/auth/me", "/riders/me"],
});
