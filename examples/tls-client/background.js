chrome.app.runtime.onLaunched.addListener(function() {
  chrome.app.window.create('window.html', { id: 'tls', width: 560, height: 420 });
});
