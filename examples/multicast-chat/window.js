// A 2013-style multicast chat on chrome.socket: TTL, bind, loopback, joinGroup, a recvFrom loop, sendTo.
var socket = chrome.socket || chrome.experimental.socket;

var socketId = null;
var group = null;
var groupPort = null;
var transcript = [];
var appState = 'idle';

function log(line) {
  transcript.push(line);
  var li = document.createElement('li');
  li.textContent = line;
  document.getElementById('messages').appendChild(li);
}

function encode(str) {
  var bytes = new Uint8Array(str.length);
  for (var i = 0; i < str.length; i++) bytes[i] = str.charCodeAt(i);
  return bytes.buffer;
}

function decode(buffer) {
  return String.fromCharCode.apply(null, new Uint8Array(buffer));
}

function fail(step, result) {
  var why = chrome.runtime.lastError ? ' ' + chrome.runtime.lastError.message : '';
  log(step + ' failed: ' + result + why);
  appState = 'error';
}

function listen() {
  socket.recvFrom(socketId, function(info) {
    if (info.resultCode < 0) {
      fail('recvFrom', info.resultCode);
      return;
    }
    log(decode(info.data));
    listen();
  });
}

function join(nick, address, port) {
  group = address;
  groupPort = port;
  socket.create('udp', {}, function(createInfo) {
    socketId = createInfo.socketId;
    socket.setMulticastTimeToLive(socketId, 12, function(result) {
      if (result !== 0) return fail('setMulticastTimeToLive', result);
      socket.setMulticastLoopbackMode(socketId, true, function(result) {
        if (result !== 0) return fail('setMulticastLoopbackMode', result);
        socket.bind(socketId, '0.0.0.0', port, function(result) {
          if (result !== 0) return fail('bind', result);
          socket.joinGroup(socketId, address, function(result) {
            if (result !== 0) return fail('joinGroup', result);
            socket.getJoinedGroups(socketId, function(groups) {
              log('* joined ' + groups.join(', ') + ' port ' + port + ' as ' + nick);
              appState = 'joined';
              listen();
            });
          });
        });
      });
    });
  });
}

function say(text) {
  chrome.storage.local.get('nick', function(items) {
    var line = items.nick + ': ' + text;
    socket.sendTo(socketId, encode(line), group, groupPort, function(info) {
      if (info.bytesWritten < 0) fail('sendTo', info.bytesWritten);
    });
  });
}

document.getElementById('join').addEventListener('submit', function(e) {
  e.preventDefault();
  var nick = document.getElementById('nick').value;
  chrome.storage.local.set({ nick: nick }, function() {
    join(nick, document.getElementById('address').value, parseInt(document.getElementById('port').value, 10));
  });
});

document.getElementById('say').addEventListener('submit', function(e) {
  e.preventDefault();
  var input = document.getElementById('message');
  say(input.value);
  input.value = '';
});
