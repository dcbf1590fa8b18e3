// The app window: starts the background page's server and shows its URL and the request log.
var appState = 'idle';
var transcript = [];
var serverUrl = null;

function show(line) {
  transcript.push(line);
  document.getElementById('log').textContent += line + '\n';
}

chrome.runtime.getBackgroundPage(function(bg) {
  bg.requestLog.forEach(show);
  bg.onLog(show);
  document.getElementById('form').addEventListener('submit', function(e) {
    e.preventDefault();
    bg.startServer(parseInt(document.getElementById('port').value, 10), function(error, port) {
      if (error) { show(error); appState = 'error'; return; }
      serverUrl = 'http://127.0.0.1:' + port + '/';
      var link = document.getElementById('url');
      link.textContent = link.href = serverUrl;
      appState = 'listening';
    });
  });
});
