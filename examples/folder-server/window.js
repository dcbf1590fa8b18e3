// The app window: the folder to serve is the one kept from last time (retainEntry/restoreEntry), else the user
// is asked at once; "Choose another folder…" asks again. The chosen DirectoryEntry goes to the background page.
var appState = 'starting';
var transcript = [];
var serverUrl = null;

function show(line) {
  transcript.push(line);
  document.getElementById('log').textContent += line + '\n';
}

function serve(bg, entry) {
  chrome.fileSystem.getDisplayPath(entry, function(displayPath) {
    document.getElementById('folder').textContent = displayPath;
    chrome.storage.local.set({ folder: chrome.fileSystem.retainEntry(entry) });
    bg.serveFolder(entry, displayPath, 0, function(error, port) {
      if (error) { show(error); appState = 'error'; return; }
      serverUrl = 'http://127.0.0.1:' + port + '/';
      var link = document.getElementById('url');
      link.textContent = link.href = serverUrl;
      appState = 'serving';
    });
  });
}

function choose(bg) {
  chrome.fileSystem.chooseEntry({ type: 'openDirectory' }, function(entry) {
    if (chrome.runtime.lastError) { show('chooseEntry: ' + chrome.runtime.lastError.message); return; }
    chrome.fileSystem.isWritableEntry(entry, function(writable) {
      show('chose ' + entry.name + (writable ? ' (writable)' : ' (read only)'));
      serve(bg, entry);
    });
  });
}

chrome.runtime.getBackgroundPage(function(bg) {
  bg.requestLog.forEach(show);
  bg.onLog(show);
  document.getElementById('choose').addEventListener('click', function() { choose(bg); });
  if (bg.server.root) { appState = 'serving'; serverUrl = 'http://127.0.0.1:' + bg.server.port + '/'; return; }
  chrome.storage.local.get('folder', function(items) {
    if (!items.folder) { choose(bg); return; }
    chrome.fileSystem.isRestorable(items.folder, function(restorable) {
      if (!restorable) { choose(bg); return; }
      chrome.fileSystem.restoreEntry(items.folder, function(entry) {
        if (chrome.runtime.lastError) { show('restoreEntry: ' + chrome.runtime.lastError.message); choose(bg); return; }
        show('restored ' + entry.name);
        serve(bg, entry);
      });
    });
  });
});
