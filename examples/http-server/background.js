chrome.app.runtime.onLaunched.addListener(function() {
  chrome.app.window.create('window.html', {
    id: 'server',
    bounds: { width: 520, height: 400 }
  }, function(win) {
    // The window reads its request counter from here: a value set before its scripts run.
    win.contentWindow.servedBefore = servedCount;
  });
});

var servedCount = 0;
function countRequest() {
  servedCount++;
  chrome.storage.local.set({ served: servedCount });
}
