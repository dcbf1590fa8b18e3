"""secure() through a packaged host against a public HTTPS server, trusting only what the host finds in the
OS trust store (the Windows stores, the macOS keychains): the check the Windows and macOS runners make.

    python .github/scripts/secure_check.py RESOCKET_HOST RESOCKET [HOSTNAME [PORT]]

Grants the resocket extension's origin tcp-connect to HOSTNAME:PORT in a temporary config dir, then speaks
the native messaging protocol to the host as Chrome does: hello, create, connect, secure. Exits 0 when
secure() answers 0, else prints the replies and exits 1.
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
from typing import IO

ORIGIN = "chrome-extension://flgdmcpaemonpacjpigcafobmllikoco/"
TIMEOUT = 60.0


def frame(msg: object) -> bytes:
    body = json.dumps(msg, separators=(",", ":")).encode("utf-8")
    return struct.pack("=I", len(body)) + body


def read_frame(stream: IO[bytes]) -> dict | None:
    head = stream.read(4)
    if len(head) < 4:
        return None
    (size,) = struct.unpack("=I", head)
    return json.loads(stream.read(size))


def main(host: str, cli: str, hostname: str = "github.com", port: int = 443) -> int:
    with tempfile.TemporaryDirectory() as config:
        env = {**os.environ, "RESOCKET_CONFIG_DIR": config}
        subprocess.run([cli, "grant", ORIGIN, f"tcp-connect:{hostname}:{port}"], env=env, check=True)
        proc = subprocess.Popen([host, ORIGIN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        requests = [
            {"id": 1, "op": "hello", "args": {"protocol": 1, "client": "ci/1"}},
            {"id": 2, "op": "create", "args": {"type": "tcp"}},
            {"id": 3, "op": "connect", "args": {"socketId": 1, "hostname": hostname, "port": port}},
            {"id": 4, "op": "secure", "args": {"socketId": 1}},
        ]
        replies: list[dict] = []

        def talk() -> None:
            assert proc.stdin is not None and proc.stdout is not None
            for request in requests:  # one at a time: connect must finish before secure
                proc.stdin.write(frame(request))
                proc.stdin.flush()
                while True:
                    reply = read_frame(proc.stdout)
                    if reply is None:
                        return
                    replies.append(reply)
                    if reply.get("id") == request["id"]:
                        break

        worker = threading.Thread(target=talk, daemon=True)
        worker.start()
        worker.join(TIMEOUT)
        proc.kill()
        proc.wait()
    for reply in replies:
        print(json.dumps(reply))
    secured = [r for r in replies if r.get("id") == 4]
    if secured and secured[0].get("args") == [0]:
        print(f"secure() to {hostname}:{port} verified with the OS trust store")
        return 0
    print(f"secure() to {hostname}:{port} did not succeed", file=sys.stderr)
    return 1


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2], *sys.argv[3:4], *(int(p) for p in sys.argv[4:5])))
