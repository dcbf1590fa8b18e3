// A 2014-style "web server for Chrome": the window lets the user choose a folder (chrome.fileSystem), then hands
// the DirectoryEntry to this background page, which serves it with chrome.socket for as long as the app runs,
// whether or not the window is still open. GET reads a file (or lists a folder), PUT stores the request body.
var socket = chrome.socket;
var server = { socketId: null, port: null, root: null, name: null };
var requestLog = [];
var logListeners = [];

chrome.app.runtime.onLaunched.addListener(function() {
  chrome.app.window.create('window.html', { id: 'main', innerBounds: { width: 560, height: 420 } });
});

function log(line) {
  requestLog.push(line);
  logListeners.forEach(function(fn) { try { fn(line); } catch (e) { /* a closed window */ } });
}

function onLog(fn) { logListeners.push(fn); }

// Called by the window with the folder the user chose: serve it (on `port` the first time, 0 = any).
function serveFolder(entry, displayPath, port, callback) {
  server.root = entry;
  server.name = displayPath;
  log('serving ' + displayPath);
  if (server.socketId !== null) { callback(null, server.port); return; }
  socket.create('tcp', {}, function(createInfo) {
    socket.listen(createInfo.socketId, '127.0.0.1', port, function(result) {
      if (result !== 0) {
        callback('listen failed: ' + result);
        return;
      }
      socket.getInfo(createInfo.socketId, function(info) {
        server.socketId = createInfo.socketId;
        server.port = info.localPort;
        log('listening on http://127.0.0.1:' + info.localPort + '/');
        socket.accept(server.socketId, onAccept);
        callback(null, info.localPort);
      });
    });
  });
}

function onAccept(acceptInfo) {
  if (acceptInfo.resultCode !== 0) { log('accept failed: ' + acceptInfo.resultCode); return; }
  socket.accept(server.socketId, onAccept);
  readRequest(acceptInfo.socketId, new Uint8Array(0));
}

function concat(a, b) {
  var out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function headerEnd(bytes) {
  for (var i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) return i;
  }
  return -1;
}

function readRequest(socketId, soFar) {
  socket.read(socketId, function(readInfo) {
    if (readInfo.resultCode <= 0) { socket.destroy(socketId); return; }
    var bytes = concat(soFar, new Uint8Array(readInfo.data));
    var end = headerEnd(bytes);
    if (end < 0) { readRequest(socketId, bytes); return; }
    var head = String.fromCharCode.apply(null, bytes.subarray(0, end)).split('\r\n');
    var length = 0;
    head.slice(1).forEach(function(line) {
      var m = /^content-length:\s*(\d+)/i.exec(line);
      if (m) length = parseInt(m[1], 10);
    });
    if (bytes.length < end + 4 + length) { readRequest(socketId, bytes); return; }
    handle(socketId, head[0], bytes.slice(end + 4, end + 4 + length));
  });
}

function handle(socketId, requestLine, body) {
  var parts = requestLine.split(' ');
  var path = decodeURIComponent((parts[1] || '/').split('?')[0]);
  var done = function(status, type, data) {
    log(requestLine + ' -> ' + status);
    respond(socketId, status, type, data);
  };
  if (!server.root) { done('503 Service Unavailable', 'text/plain', text('no folder chosen\n')); return; }
  if (path.split('/').indexOf('..') >= 0) { done('403 Forbidden', 'text/plain', text('no\n')); return; }
  var fail = function(err) {
    var missing = err && err.name === 'NotFoundError';
    done(missing ? '404 Not Found' : '500 Internal Server Error', 'text/plain',
         text((missing ? 'not found: ' + path : 'error: ' + (err && err.name)) + '\n'));
  };
  if (parts[0] === 'PUT') {
    server.root.getFile(path.slice(1), { create: true }, function(fileEntry) {
      fileEntry.createWriter(function(writer) {
        writer.onwriteend = function() {
          if (writer.error) { fail(writer.error); return; }
          if (writer.length > body.length) { writer.truncate(body.length); return; }
          done('201 Created', 'text/plain', text('stored ' + body.length + ' bytes in ' + path + '\n'));
        };
        writer.write(new Blob([body]));
      }, fail);
    }, fail);
    return;
  }
  if (parts[0] !== 'GET') { done('405 Method Not Allowed', 'text/plain', text('GET or PUT\n')); return; }
  if (path === '/' || path.charAt(path.length - 1) === '/') {
    var dir = path === '/' ? server.root : null;
    var list = function(dirEntry) {
      var reader = dirEntry.createReader();
      var names = [];
      (function more() {
        reader.readEntries(function(entries) {
          if (!entries.length) {
            names.sort();
            done('200 OK', 'text/plain; charset=utf-8', text(names.join('\n') + '\n'));
            return;
          }
          entries.forEach(function(e) { names.push(e.name + (e.isDirectory ? '/' : '')); });
          more();
        }, fail);
      })();
    };
    if (dir) list(dir);
    else server.root.getDirectory(path.slice(1), {}, list, fail);
    return;
  }
  server.root.getFile(path.slice(1), {}, function(fileEntry) {
    fileEntry.file(function(file) {
      var reader = new FileReader();
      reader.onload = function() { done('200 OK', 'application/octet-stream', reader.result); };
      reader.onerror = function() { fail(reader.error); };
      reader.readAsArrayBuffer(file);
    }, fail);
  }, fail);
}

function text(s) { return new TextEncoder().encode(s).buffer; }

function respond(socketId, status, type, data) {
  var head = new TextEncoder().encode('HTTP/1.0 ' + status + '\r\nContent-Type: ' + type + '\r\nContent-Length: ' +
                                      data.byteLength + '\r\nConnection: close\r\n\r\n');
  socket.write(socketId, concat(head, new Uint8Array(data)).buffer, function() { socket.destroy(socketId); });
}
