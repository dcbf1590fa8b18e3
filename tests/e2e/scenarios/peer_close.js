// What a client sees when its peer goes away (docs/chrome-behaviour.md read/write rows and getInfo's
// `connected`): the peer is an accepted socket of the same page, so no server's timing is involved.
// A: the peer writes then closes (FIN): data, then 0, connected stays true until a read reveals the close.
// B: writes after the peer closed: the first goes out, the RST it draws makes a later one fail (-2 in the
//    semantics), and the socket counts as disconnected.
// C: the peer closes with unread data (Linux sends RST): a pending read ends with 0, not -101.
// D: a dual-stack "::" listener accepting an IPv4 client: the accepted socket's peerAddress.
// E, F: after a write error met after the write's callback, what a read, the options and disconnect see.
async (env) => {
  const t = transcript(env);

  async function pair(host) {
    const server = (await t.call("create", "tcp")).value.socketId;
    await t.call("listen", server, host, 0);
    const port = (await t.call("getInfo", server)).value.localPort;
    const client = (await t.call("create", "tcp")).value.socketId;
    const accepted = t.start("accept", server);
    // The port is ephemeral, so the connect is noted rather than recorded with its arguments.
    const code = await new Promise((r) => t.api.connect(client, "127.0.0.1", port, (c) => {
      r([c, chrome.runtime.lastError ? chrome.runtime.lastError.message : null]);
    }));
    t.note("connect result", code);
    const peer = (await accepted).value.socketId;
    return {server, client, peer};
  }

  // The peer is destroyed; the first write draws its RST, the second meets it after its callback.
  async function secondWriteMetTheReset() {
    const sockets = await pair("127.0.0.1");
    t.fire("destroy", sockets.peer);
    await t.sleep(200);
    await t.call("write", sockets.client, t.bytes("first"));
    await t.sleep(200);
    await t.call("write", sockets.client, t.bytes("second"));
    await t.sleep(200);
    return sockets;
  }

  // A
  {
    const {server, client, peer} = await pair("127.0.0.1");
    await t.call("write", peer, t.bytes("bye"));
    t.fire("destroy", peer);
    await t.sleep(200);
    await t.call("getInfo", client);
    await t.call("read", client);
    await t.call("read", client);
    await t.call("getInfo", client);
    await t.call("read", client);
    await t.call("write", client, t.bytes("x"));
    t.fire("destroy", client);
    t.fire("destroy", server);
  }

  // B
  {
    const {server, client} = await secondWriteMetTheReset();
    await t.call("getInfo", client);
    await t.call("write", client, t.bytes("third"));
    await t.call("getInfo", client);
    await t.call("read", client);
    t.fire("destroy", client);
    t.fire("destroy", server);
  }

  // E: as B, but a read comes first once the write error was met after its callback.
  {
    const {server, client} = await secondWriteMetTheReset();
    await t.call("getInfo", client);
    await t.call("read", client);
    await t.call("getInfo", client);
    await t.call("write", client, t.bytes("third"));
    await t.call("read", client);
    t.fire("destroy", client);
    t.fire("destroy", server);
  }

  // F: as B, but the socket options and a disconnect come in between.
  {
    const {server, client} = await secondWriteMetTheReset();
    await t.call("setNoDelay", client, true);
    await t.call("setKeepAlive", client, true, 1);
    t.fire("disconnect", client);
    await t.call("getInfo", client);
    await t.call("write", client, t.bytes("third"));
    t.fire("destroy", client);
    t.fire("destroy", server);
  }

  // C
  {
    const {server, client, peer} = await pair("127.0.0.1");
    await t.call("write", client, t.bytes("unread"));
    await t.sleep(200);
    const pending = t.start("read", client);
    await t.sleep(100);
    t.fire("destroy", peer);
    t.note("pending read ended", (await t.within(pending, 3000)) !== undefined);
    await t.call("getInfo", client);
    await t.call("read", client);
    await t.call("write", client, t.bytes("x"));
    t.fire("destroy", client);
    t.fire("destroy", server);
  }

  // D
  {
    const {server, client, peer} = await pair("::");
    const info = (await t.call("getInfo", peer)).value;
    t.note("accepted peerAddress result", info && info.peerAddress);
    await t.call("getInfo", client);
    await t.call("getInfo", server);
    await t.call("write", client, t.bytes("ping"));
    await t.call("read", peer);
    t.fire("destroy", peer);
    t.fire("destroy", client);
    t.fire("destroy", server);
  }
  return t.entries;
}
