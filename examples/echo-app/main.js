// An echo client in the style of a 2013 Chrome App: chrome.socket with callbacks, ArrayBuffers and
// chrome.runtime.lastError. It runs unchanged as a Chrome App or, through resocket, as a page of the
// resocket extension. Query parameters (tcp=host:port, udp=host:port, message=..., autorun=1) fill the
// form, so `make demo` can drive it.
var socket = chrome.socket || chrome.experimental.socket;

function $(id) { return document.getElementById(id); }

function log(text, isError) {
  var line = document.createElement("div");
  if (isError) line.className = "err";
  line.textContent = text;
  $("log").appendChild(line);
  console.log(text);
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

function fail(what, code) {
  var msg = chrome.runtime.lastError ? chrome.runtime.lastError.message : "";
  log(what + " failed: " + code + (msg ? " (" + msg + ")" : ""), true);
  done("error");
}

function done(status) {
  document.body.setAttribute("data-status", status);
}

function tcpEcho(host, port, message, next) {
  socket.create("tcp", {}, function (createInfo) {
    var id = createInfo.socketId;
    log("tcp: created socket " + id);
    socket.connect(id, host, port, function (result) {
      if (result < 0) return fail("tcp connect to " + host + ":" + port, result);
      log("tcp: connected to " + host + ":" + port);
      socket.write(id, str2ab(message), function (writeInfo) {
        if (writeInfo.bytesWritten < 0) return fail("tcp write", writeInfo.bytesWritten);
        log("tcp: sent " + writeInfo.bytesWritten + " bytes: " + JSON.stringify(message));
        var received = "";
        (function readMore() {
          socket.read(id, function (readInfo) {
            if (readInfo.resultCode < 0) return fail("tcp read", readInfo.resultCode);
            received += ab2str(readInfo.data);
            if (readInfo.resultCode > 0 && received.length < message.length) return readMore();
            log("tcp: received " + received.length + " bytes: " + JSON.stringify(received));
            socket.destroy(id);
            next(received === message);
          });
        })();
      });
    });
  });
}

function udpEcho(host, port, message, next) {
  socket.create("udp", {}, function (createInfo) {
    var id = createInfo.socketId;
    log("udp: created socket " + id);
    socket.bind(id, "0.0.0.0", 0, function (result) {
      if (result < 0) return fail("udp bind", result);
      socket.getInfo(id, function (info) {
        log("udp: bound to " + info.localAddress + ":" + info.localPort);
        socket.recvFrom(id, function (recvInfo) {
          if (recvInfo.resultCode < 0) return fail("udp recvFrom", recvInfo.resultCode);
          var text = ab2str(recvInfo.data);
          log("udp: received " + recvInfo.resultCode + " bytes from " + recvInfo.address + ":" +
              recvInfo.port + ": " + JSON.stringify(text));
          socket.destroy(id);
          next(text === message);
        });
        socket.sendTo(id, str2ab(message), host, port, function (writeInfo) {
          if (writeInfo.bytesWritten < 0) return fail("udp sendTo", writeInfo.bytesWritten);
          log("udp: sent " + writeInfo.bytesWritten + " bytes to " + host + ":" + port);
        });
      });
    });
  });
}

function run() {
  $("log").textContent = "";
  done("running");
  var message = $("message").value;
  tcpEcho($("tcp-host").value, parseInt($("tcp-port").value, 10), message, function (tcpOk) {
    log("tcp echo " + (tcpOk ? "matches" : "DIFFERS"), !tcpOk);
    udpEcho($("udp-host").value, parseInt($("udp-port").value, 10), message, function (udpOk) {
      log("udp echo " + (udpOk ? "matches" : "DIFFERS"), !udpOk);
      done(tcpOk && udpOk ? "ok" : "error");
    });
  });
}

window.addEventListener("load", function () {
  var params = new URLSearchParams(location.search);
  ["tcp", "udp"].forEach(function (kind) {
    var value = params.get(kind);
    if (!value) return;
    var at = value.lastIndexOf(":");
    $(kind + "-host").value = value.slice(0, at);
    $(kind + "-port").value = value.slice(at + 1);
  });
  if (params.get("message")) $("message").value = params.get("message");
  $("run").addEventListener("click", run);
  if (params.get("autorun") === "1") run();
});
