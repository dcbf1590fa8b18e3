chrome.app.runtime.onLaunched.addListener(function(launchData) {
  chrome.app.window.create('window.html', { width: 480, height: 320 });
});
