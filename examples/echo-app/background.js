// Chrome App launcher, as every 2013 app had one. Unused when the page runs inside resocket.
chrome.app.runtime.onLaunched.addListener(function () {
  chrome.app.window.create("index.html", {bounds: {width: 640, height: 480}});
});
