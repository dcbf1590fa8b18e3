chrome.app.runtime.onLaunched.addListener(function() {
  chrome.app.window.create('window.html', {
    id: 'chat',
    innerBounds: { width: 500, height: 420 }
  });
});
