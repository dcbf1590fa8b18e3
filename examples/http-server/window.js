// A 2013-style chrome.socket HTTP server: listen (no backlog), accept re-armed from inside its own callback,
// read the request, write a response, destroy the connection.
var socket = chrome.socket;

var serverSocketId = null;
var transcript = [];
var appState = 'idle';
var listeningPort = null;
var requests = 0;

function log(line) {
  transcript.push(line);
  document.getElementById('log').textContent += line + '\n';
}

function stringToArrayBuffer(str) {
  var bytes = new Uint8Array(str.length);
  for (var i = 0; i < str.length; i++) bytes[i] = str.charCodeAt(i);
  return bytes.buffer;
}

function arrayBufferToString(buffer) {
  var bytes = new Uint8Array(buffer);
  var str = '';
  for (var i = 0; i < bytes.length; i++) str += String.fromCharCode(bytes[i]);
  return str;
}

function respond(socketId, status, body) {
  var response = 'HTTP/1.0 ' + status + '\r\n' +
                 'Content-Type: text/plain\r\n' +
                 'Content-Length: ' + body.length + '\r\n' +
                 'Connection: close\r\n\r\n' + body;
  socket.write(socketId, stringToArrayBuffer(response), function(writeInfo) {
    socket.destroy(socketId);
  });
}

function readRequest(socketId, soFar) {
  socket.read(socketId, function(readInfo) {
    if (readInfo.resultCode <= 0) {
      socket.destroy(socketId);
      return;
    }
    var text = soFar + arrayBufferToString(readInfo.data);
    if (text.indexOf('\r\n\r\n') < 0) {
      readRequest(socketId, text);
      return;
    }
    var requestLine = text.split('\r\n')[0];
    var parts = requestLine.split(' ');
    requests++;
    log('request ' + requests + ': ' + requestLine);
    chrome.runtime.getBackgroundPage(function(bg) {
      bg.countRequest();
      if (parts[0] !== 'GET') {
        respond(socketId, '405 Method Not Allowed', 'only GET\n');
      } else {
        respond(socketId, '200 OK', 'Hello from a Chrome App! You asked for ' + parts[1] +
                ' (request ' + (servedBefore + bg.servedCount) + ')\n');
      }
    });
  });
}

function onAccept(acceptInfo) {
  if (acceptInfo.resultCode !== 0) {
    log('accept failed: ' + acceptInfo.resultCode);
    return;
  }
  // Re-arm first, from inside this callback, so the next client is accepted while this one is served.
  socket.accept(serverSocketId, onAccept);
  readRequest(acceptInfo.socketId, '');
}

document.getElementById('form').addEventListener('submit', function(e) {
  e.preventDefault();
  var port = parseInt(document.getElementById('port').value, 10);
  socket.create('tcp', {}, function(createInfo) {
    serverSocketId = createInfo.socketId;
    socket.listen(serverSocketId, '127.0.0.1', port, function(result) {
      if (result !== 0) {
        log('listen failed: ' + result + ' ' + (chrome.runtime.lastError ? chrome.runtime.lastError.message : ''));
        appState = 'error';
        return;
      }
      socket.getInfo(serverSocketId, function(info) {
        listeningPort = info.localPort;
        document.getElementById('url').textContent = 'Serving on http://127.0.0.1:' + listeningPort + '/';
        log('listening on ' + info.localAddress + ':' + info.localPort);
        appState = 'listening';
        socket.accept(serverSocketId, onAccept);
      });
    });
  });
});
