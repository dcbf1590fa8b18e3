// A 2014-style static-file web server on chrome.sockets: tcpServer.listen in the background page, accepted
// connections resumed (they arrive paused), the request read from onReceive events, the file fetched from the
// app's own package (www/) with XHR, and the response sent with one tcp.send, then the connection closed.
var server = { socketId: null, port: null };
var requestLog = [];
var logListeners = [];
var pending = {}; // socketId -> request text received so far

var TYPES = { html: 'text/html; charset=utf-8', css: 'text/css', js: 'application/javascript',
              txt: 'text/plain; charset=utf-8', json: 'application/json', png: 'image/png',
              bin: 'application/octet-stream' };

chrome.app.runtime.onLaunched.addListener(function() {
  chrome.app.window.create('window.html', { id: 'main', innerBounds: { width: 560, height: 420 } });
});

function log(line) {
  requestLog.push(line);
  logListeners.forEach(function(fn) { fn(line); });
}

function onLog(fn) { logListeners.push(fn); }

function startServer(port, callback) {
  if (server.socketId !== null) { callback(null, server.port); return; }
  chrome.sockets.tcpServer.create({ name: 'web-server' }, function(createInfo) {
    chrome.sockets.tcpServer.listen(createInfo.socketId, '127.0.0.1', port, function(result) {
      if (result < 0) {
        var why = chrome.runtime.lastError ? chrome.runtime.lastError.message : String(result);
        chrome.sockets.tcpServer.close(createInfo.socketId);
        callback('listen failed: ' + why);
        return;
      }
      chrome.sockets.tcpServer.getInfo(createInfo.socketId, function(info) {
        server.socketId = createInfo.socketId;
        server.port = info.localPort;
        log('listening on http://127.0.0.1:' + info.localPort + '/');
        callback(null, info.localPort);
      });
    });
  });
}

chrome.sockets.tcpServer.onAccept.addListener(function(info) {
  if (info.socketId !== server.socketId) return;
  pending[info.clientSocketId] = '';
  chrome.sockets.tcp.setPaused(info.clientSocketId, false);
});

chrome.sockets.tcpServer.onAcceptError.addListener(function(info) {
  log('accept error ' + info.resultCode);
});

chrome.sockets.tcp.onReceive.addListener(function(info) {
  if (!(info.socketId in pending)) return;
  var text = pending[info.socketId] + String.fromCharCode.apply(null, new Uint8Array(info.data));
  if (text.indexOf('\r\n\r\n') < 0) { pending[info.socketId] = text; return; }
  delete pending[info.socketId];
  handleRequest(info.socketId, text.split('\r\n')[0]);
});

chrome.sockets.tcp.onReceiveError.addListener(function(info) {
  if (info.socketId in pending) {
    delete pending[info.socketId];
    chrome.sockets.tcp.close(info.socketId);
  }
});

function handleRequest(socketId, requestLine) {
  var parts = requestLine.split(' ');
  var path = (parts[1] || '/').split('?')[0];
  if (path.charAt(path.length - 1) === '/') path += 'index.html';
  if (parts[0] !== 'GET') {
    finish(socketId, requestLine, 405, 'Method Not Allowed', 'text/plain', textBuffer('only GET\n'));
    return;
  }
  if (path.indexOf('..') >= 0) {
    finish(socketId, requestLine, 404, 'Not Found', 'text/plain', textBuffer('not found\n'));
    return;
  }
  var xhr = new XMLHttpRequest();
  xhr.open('GET', chrome.runtime.getURL('www' + path));
  xhr.responseType = 'arraybuffer';
  xhr.onload = function() {
    if (xhr.status !== 200 && xhr.status !== 0) { notFound(); return; }
    var ext = path.split('.').pop();
    finish(socketId, requestLine, 200, 'OK', TYPES[ext] || 'application/octet-stream', xhr.response);
  };
  xhr.onerror = notFound;
  xhr.send();

  function notFound() {
    finish(socketId, requestLine, 404, 'Not Found', 'text/html; charset=utf-8',
           textBuffer('<!DOCTYPE html><title>404</title><h1>Not found</h1><p>' + escapeHtml(path) + '</p>\n'));
  }
}

function finish(socketId, requestLine, status, reason, type, body) {
  var head = textBuffer('HTTP/1.1 ' + status + ' ' + reason + '\r\n' +
                        'Content-Type: ' + type + '\r\n' +
                        'Content-Length: ' + body.byteLength + '\r\n' +
                        'Connection: close\r\n\r\n');
  var response = new Uint8Array(head.byteLength + body.byteLength);
  response.set(new Uint8Array(head), 0);
  response.set(new Uint8Array(body), head.byteLength);
  chrome.sockets.tcp.send(socketId, response.buffer, function(sendInfo) {
    log(requestLine + ' -> ' + status + ' (' + body.byteLength + ' bytes' +
        (sendInfo.resultCode < 0 ? ', send failed ' + sendInfo.resultCode : '') + ')');
    chrome.sockets.tcp.close(socketId);
  });
}

function textBuffer(text) {
  var bytes = new Uint8Array(text.length);
  for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return bytes.buffer;
}

function escapeHtml(text) {
  return text.replace(/[&<>"]/g, function(c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]; });
}
