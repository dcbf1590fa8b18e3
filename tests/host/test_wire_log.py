"""RESOCKET_LOG=DEBUG writes what crossed the wire to the log (never stdout), payloads as sizes."""
from __future__ import annotations

import base64
import json
from pathlib import Path

from resocket.grants import GrantStore

from tests.support.hostclient import DEFAULT_ORIGIN, HostClient, b64
from tests.support.servers import TcpServer


def test_debug_log_shows_each_request_and_reply_with_payload_sizes(tmp_path: Path) -> None:
    GrantStore.open(tmp_path).grant(DEFAULT_ORIGIN, ["tcp-connect:127.0.0.1:*"])
    log_file = tmp_path / "host.log"
    with TcpServer() as server:
        client = HostClient(env={"RESOCKET_CONFIG_DIR": str(tmp_path), "RESOCKET_LOG": "DEBUG"},
                            args=["--log-file", str(log_file)])
        try:
            sid = client.call("create", type="tcp").value["socketId"]
            assert client.call("connect", socketId=sid, hostname="127.0.0.1", port=server.port).value == 0
            secret = b"do-not-log-me"
            assert client.call("write", socketId=sid, data=b64(secret)).value == {"bytesWritten": len(secret)}
            assert client.call("read", socketId=sid).data() == secret  # the server echoes
            # Read-ahead: the bytes the server sends after the read that starts it are pushed as events.
            assert client.call("write", socketId=sid, data=b64(b"first")).value == {"bytesWritten": 5}
            assert client.call("read", socketId=sid, bufferSize=5, stream=True).data() == b"first"
            assert client.call("write", socketId=sid, data=b64(b"pushed")).value == {"bytesWritten": 6}
            pushed = client.unsolicited.get(timeout=10)
            assert pushed["event"] == "socket.data"
            big = b"x" * 60000
            assert client.call("write", socketId=sid, data=b64(big)).value == {"bytesWritten": len(big)}
            got = b""
            while len(got) < len(big):
                got += base64.b64decode(client.unsolicited.get(timeout=10)["args"][0]["data"])
        finally:
            assert client.close() == 0
    text = log_file.read_text()
    assert f"-> #3 connect {json.dumps({'socketId': sid, 'hostname': '127.0.0.1', 'port': server.port})}" in text
    assert '<- {"id": 3, "args": [0]}' in text
    assert '-> #4 write {"socketId": 1, "data": "<13 bytes>"}' in text
    assert '<- {"id": 5, "args": [{"resultCode": 13, "data": "<13 bytes>"}]}' in text
    assert "do-not-log-me" not in text and b64(secret) not in text
    stream = pushed["args"][0]["stream"]
    assert f'<- {{"event": "socket.data", "args": [{{"socketId": {sid}, "stream": {stream}, "data": "<6 bytes>"}}]}}' in text
    assert "<- read-ahead event (" in text and b64(b"pushed") not in text
    for frame in client.raw_frames:  # stdout stayed frames only
        json.loads(frame)
