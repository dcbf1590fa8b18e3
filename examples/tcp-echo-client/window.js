// A 2013-style chrome.socket client: create, connect, write, poll with read() on a timer.
var socket = chrome.socket || chrome.experimental.socket;

var socketId = null;
var pollTimer = null;
var expected = '';
var received = '';
// What the page saw, in order; the end-to-end test reads it.
var transcript = [];
var appState = 'idle';
var finished = false;

function log(line) {
  transcript.push(line);
  document.getElementById('log').textContent += line + '\n';
}

function str2ab(str) {
  var buf = new ArrayBuffer(str.length);
  var view = new Uint8Array(buf);
  for (var i = 0; i < str.length; i++) {
    view[i] = str.charCodeAt(i);
  }
  return buf;
}

function ab2str(buf) {
  return String.fromCharCode.apply(null, new Uint8Array(buf));
}

function finish(state) {
  if (finished) return;
  finished = true;
  clearInterval(pollTimer);
  socket.disconnect(socketId);
  socket.destroy(socketId);
  log(state);
  appState = state;
}

function onRead(readInfo) {
  if (finished) return;
  if (readInfo.resultCode > 0) {
    received += ab2str(readInfo.data);
    if (received.length >= expected.length) {
      log('echoed: ' + JSON.stringify(received));
      finish(received === expected ? 'done' : 'mismatch');
    }
  } else if (readInfo.resultCode === 0) {
    log('server closed the connection');
    finish('closed');
  }
  // resultCode < 0: this poll overlapped the previous one, or nothing was there; the next tick tries again.
}

function sendLine(line) {
  var data = str2ab(line + '\n');
  expected += line + '\n';
  socket.write(socketId, data, function(writeInfo) {
    if (writeInfo.bytesWritten < 0) {
      log('write failed: ' + writeInfo.bytesWritten);
      finish('error');
      return;
    }
    log('sent ' + writeInfo.bytesWritten + ' bytes');
  });
}

document.getElementById('form').addEventListener('submit', function(e) {
  e.preventDefault();
  var host = document.getElementById('host').value;
  var port = parseInt(document.getElementById('port').value, 10);
  var lines = document.getElementById('lines').value.split('|');
  appState = 'connecting';
  socket.create('tcp', {}, function(createInfo) {
    socketId = createInfo.socketId;
    socket.connect(socketId, host, port, function(result) {
      if (result < 0) {
        var why = chrome.runtime.lastError ? chrome.runtime.lastError.message : '';
        log('connect failed: ' + result + ' ' + why);
        appState = 'error';
        return;
      }
      log('connected to ' + host + ':' + port);
      appState = 'connected';
      pollTimer = setInterval(function() {
        socket.read(socketId, null, onRead);
      }, 20);
      lines.forEach(sendLine);
    });
  });
});
