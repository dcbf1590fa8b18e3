// A chrome.socket TLS client: connect, secure(), then write a request and read until the server closes
// (resultCode 0).
var socket = chrome.socket;

var socketId = null;
var transcript = [];
var appState = 'idle';
var response = '';

function log(line) {
  transcript.push(line);
  document.getElementById('log').textContent += line + '\n';
}

function toBuffer(str) {
  var bytes = new Uint8Array(str.length);
  for (var i = 0; i < str.length; i++) bytes[i] = str.charCodeAt(i);
  return bytes.buffer;
}

function fromBuffer(buffer) {
  return String.fromCharCode.apply(null, new Uint8Array(buffer));
}

function fail(step, code) {
  var err = chrome.runtime.lastError;
  log(step + ' failed: ' + code + (err ? ' ' + err.message : ''));
  appState = 'error';
  socket.destroy(socketId);
}

function readAll() {
  socket.read(socketId, 65536, function(readInfo) {
    if (readInfo.resultCode > 0) {
      response += fromBuffer(readInfo.data);
      readAll();
    } else if (readInfo.resultCode === 0) {
      // 0: the server closed the connection; the response is complete.
      document.getElementById('response').textContent = response;
      log('response: ' + response.split('\r\n')[0] + ', ' + response.length + ' bytes');
      socket.destroy(socketId);
      appState = 'done';
    } else {
      fail('read', readInfo.resultCode);
    }
  });
}

document.getElementById('form').addEventListener('submit', function(e) {
  e.preventDefault();
  var host = document.getElementById('host').value;
  var port = parseInt(document.getElementById('port').value, 10);
  var path = document.getElementById('path').value;
  appState = 'connecting';
  socket.create('tcp', {}, function(createInfo) {
    socketId = createInfo.socketId;
    socket.connect(socketId, host, port, function(result) {
      if (result !== 0) return fail('connect', result);
      socket.secure(socketId, {}, function(result) {
        if (result !== 0) return fail('secure', result);
        socket.getInfo(socketId, function(info) {
          log('secure connection to ' + info.peerAddress + ':' + info.peerPort);
          var request = 'GET ' + path + ' HTTP/1.0\r\nHost: ' + host + '\r\nUser-Agent: tls-client-app\r\n\r\n';
          socket.write(socketId, toBuffer(request), function(writeInfo) {
            if (writeInfo.bytesWritten < 0) return fail('write', writeInfo.bytesWritten);
            readAll();
          });
        });
      });
    });
  });
});
