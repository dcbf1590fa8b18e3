// A 2013-style chrome.socket UDP client: create('udp', cb) with no options, bind to any port, sendTo,
// and a recvFrom loop.
var socket = chrome.socket || chrome.experimental.socket;

var socketId = null;
var transcript = [];
var appState = 'idle';
var replies = [];
var wanted = 0;

function log(line) {
  transcript.push(line);
  document.getElementById('log').textContent += line + '\n';
}

function str2ab(str) {
  var buf = new ArrayBuffer(str.length);
  var view = new Uint8Array(buf);
  for (var i = 0; i < str.length; i++) view[i] = str.charCodeAt(i);
  return buf;
}

function ab2str(buf) {
  return String.fromCharCode.apply(null, new Uint8Array(buf));
}

function receive() {
  socket.recvFrom(socketId, function(recvInfo) {
    if (recvInfo.resultCode < 0) {
      log('recvFrom failed: ' + recvInfo.resultCode);
      appState = 'error';
      return;
    }
    var text = ab2str(recvInfo.data);
    replies.push(text);
    log('reply from ' + recvInfo.address + ':' + recvInfo.port + ': ' + text);
    if (replies.length === wanted) {
      socket.destroy(socketId);
      appState = 'done';
      return;
    }
    receive();
  });
}

document.getElementById('form').addEventListener('submit', function(e) {
  e.preventDefault();
  var host = document.getElementById('host').value;
  var port = parseInt(document.getElementById('port').value, 10);
  var messages = document.getElementById('messages').value.split('|');
  wanted = messages.length;
  socket.create('udp', function(createInfo) {
    socketId = createInfo.socketId;
    socket.bind(socketId, '127.0.0.1', 0, function(result) {
      if (result !== 0) {
        log('bind failed: ' + result);
        appState = 'error';
        return;
      }
      receive();
      var next = 0;
      (function sendNext() {
        if (next >= messages.length) return;
        var message = messages[next++];
        socket.sendTo(socketId, str2ab(message), host, port, function(writeInfo) {
          if (chrome.runtime.lastError || writeInfo.bytesWritten < 0) {
            log('sendTo failed: ' + (chrome.runtime.lastError ? chrome.runtime.lastError.message : writeInfo.bytesWritten));
            appState = 'error';
            return;
          }
          log('sent ' + JSON.stringify(message));
          sendNext();
        });
      })();
    });
  });
});
