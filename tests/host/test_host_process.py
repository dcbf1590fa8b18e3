"""A real `resocket-host` process over pipes, as Chrome runs it: what a client sees on the wire."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from resocket import EXTENSION_ORIGIN
from resocket.grants import GrantStore

# tests/ has no __init__.py: make `tests.support` importable from the repo root.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.hostclient import DEFAULT_ORIGIN, HostClient
from tests.support.wire import HELLO, frame, message, parse_frames, read_message

TIMEOUT = 10  # only to avoid hangs; nothing here is timed




@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An empty config dir of our own: the user's real grants never leak into a test."""
    return {"RESOCKET_CONFIG_DIR": str(tmp_path / "config")}


GRANTED = "chrome-extension://abcdefghijklmnopabcdefghijklmnop/"


def grant(env: dict[str, str], origin: str, *rules: str) -> None:
    GrantStore.open(env["RESOCKET_CONFIG_DIR"]).grant(origin, rules)


@pytest.fixture
def client(env: dict[str, str]):
    """A client whose origin holds a grant: without one every socket call is refused (test_ungranted.py)."""
    grant(env, GRANTED, "tcp-connect:localhost:*")
    c = HostClient(GRANTED, env=env)
    yield c
    c.close()


@pytest.fixture
def listener_client(env: dict[str, str]):
    """A client whose origin may listen on loopback, to have a request that stays in flight (accept)."""
    grant(env, GRANTED, "tcp-listen:127.0.0.1:*")
    c = HostClient(GRANTED, env=env)
    yield c
    c.close()


def run_host(stdin: bytes, env: dict[str, str], origin: str = DEFAULT_ORIGIN,
             args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Feed the host a whole input at once, then EOF; return everything it wrote."""
    return subprocess.run([sys.executable, "-m", "resocket.client.serve", origin, *args], input=stdin, check=False,
                          capture_output=True, env={**os.environ, **env}, timeout=TIMEOUT)


def error_code(msg: dict) -> str:
    return msg["error"]["code"]


def test_hello_reports_the_host_and_the_caller_origin(env: dict[str, str]) -> None:
    c = HostClient(env=env)
    try:
        assert c.hello_result["protocol"] == 1
        assert c.hello_result["host"] == "resocket-host"
        assert c.hello_result["origin"] == DEFAULT_ORIGIN
        assert c.hello_result["rules"] == [] and c.hello_result["granted"] is False
    finally:
        c.close()


def test_hello_reports_the_rules_granted_to_the_origin(env: dict[str, str]) -> None:
    grant(env, GRANTED, "tcp-connect:localhost:*")
    c = HostClient(GRANTED, env=env)
    try:
        assert c.hello_result["rules"] == ["tcp-connect:localhost:*"] and c.hello_result["granted"] is True
    finally:
        c.close()


def test_corrupt_grants_file_answers_hello_with_config_error_naming_the_file(env: dict[str, str]) -> None:
    config = Path(env["RESOCKET_CONFIG_DIR"])
    config.mkdir()
    (config / "grants.json").write_text("{not json")
    c = HostClient(env=env, hello=False)
    try:
        reply = c.request("hello", protocol=1, client="tests/1")
        assert error_code(reply) == "config_error"
        assert "grants.json" in reply["error"]["message"] and "resocket grants" in reply["error"]["message"]
        # the host is still there and still refuses calls until a hello succeeds
        assert error_code(c.request("ping")) == "hello_required"
    finally:
        assert c.close() == 0


def test_ping_after_hello_gets_an_empty_result(client: HostClient) -> None:
    pending = client.start("ping")
    assert pending.wait(TIMEOUT) == {"id": pending.id, "result": {}}


def test_stdout_holds_only_frames_even_with_debug_logging(env: dict[str, str]) -> None:
    junk = (message(HELLO) + message({"id": 2, "op": "ping"}) + message({"id": 3, "op": "nope"})
            + frame(b"\xff\xfe\xfd") + message({"id": 4, "op": "getNetworkList"}))
    grant(env, DEFAULT_ORIGIN, "tcp-connect:localhost:*")
    done = run_host(junk, {**env, "RESOCKET_LOG": "DEBUG"})
    assert done.returncode == 0, done.stderr.decode()
    msgs = parse_frames(done.stdout)
    assert [m["id"] for m in msgs] == [1, 2, 3, None, 4]
    assert "result" in msgs[0] and msgs[1] == {"id": 2, "result": {}}
    assert error_code(msgs[2]) == "unknown_op" and error_code(msgs[3]) == "bad_frame"
    assert isinstance(msgs[4]["args"][0], list)


def test_truncated_frame_at_eof_is_answered_then_the_host_exits_cleanly(env: dict[str, str]) -> None:
    done = run_host(message({"id": 1, "op": "ping"}) + message(HELLO)[:10], env)
    assert done.returncode == 0
    msgs = parse_frames(done.stdout)
    assert [error_code(m) for m in msgs] == ["hello_required", "bad_frame"]
    assert "ended inside a frame" in msgs[1]["error"]["message"]


def test_truncated_length_prefix_at_eof_is_bad_frame(env: dict[str, str]) -> None:
    done = run_host(b"\x07\x00", env)
    assert done.returncode == 0
    assert [error_code(m) for m in parse_frames(done.stdout)] == ["bad_frame"]


def test_invalid_utf8_then_invalid_json_then_a_valid_request(env: dict[str, str]) -> None:
    data = (frame(b'"\xc3("') + frame(b"{oops")
            + frame(b"") + message({"id": 9, "op": "ping"}))
    msgs = parse_frames(run_host(data, env).stdout)
    assert [(m["id"], error_code(m)) for m in msgs] == [
        (None, "bad_frame"), (None, "bad_frame"), (None, "bad_frame"), (9, "hello_required")]
    assert "UTF-8" in msgs[0]["error"]["message"] and "JSON" in msgs[1]["error"]["message"]


@pytest.mark.parametrize("msg, rid, code", [
    ([1, 2], None, "bad_request"),
    ("hello", None, "bad_request"),
    ({"op": "ping"}, None, "bad_request"),
    ({"id": "7", "op": "ping"}, None, "bad_request"),
    ({"id": 7, "op": 5}, 7, "bad_request"),
    ({"op": {}}, None, "bad_request"),  # found by fuzz_protocol.py: an unhashable op took the host down
    ({"op": ["socket.ack"]}, None, "bad_request"),
    ({"id": 7, "op": "teleport", "args": {}}, 7, "unknown_op"),
    ({"id": 7, "op": "create", "args": {"type": "tcp"}}, 7, "hello_required"),
])
def test_malformed_requests_get_error_replies_and_the_host_keeps_serving(
        env: dict[str, str], msg: object, rid: object, code: str) -> None:
    msgs = parse_frames(run_host(message(msg) + message(HELLO) + message({"id": 8, "op": "ping"}), env).stdout)
    assert (msgs[0]["id"], error_code(msgs[0])) == (rid, code)
    assert "result" in msgs[1] and msgs[2] == {"id": 8, "result": {}}


@pytest.mark.parametrize("op, args, message", [
    ("connect", {"socketId": 1, "hostname": "localhost"}, "connect: port is required"),
    ("connect", {"socketId": "1", "hostname": "localhost", "port": 80}, "connect: socketId must be an integer"),
    ("setNoDelay", {"socketId": 1, "noDelay": "yes"}, "setNoDelay: noDelay must be a boolean"),
    ("create", {"type": "raw"}, 'create: type must be "tcp" or "udp"'),
    ("write", {"socketId": 1, "data": "not base64!"}, "write: data is not valid base64"),
    ("read", "socket 1", "read: args must be an object"),
])
def test_wrong_types_and_missing_args_are_bad_args(client: HostClient, op: str, args: object,
                                                   message: str) -> None:
    pending = client.expect(50)
    client.send({"id": 50, "op": op, "args": args})
    reply = pending.wait(TIMEOUT)
    assert (reply["id"], error_code(reply)) == (50, "bad_args")
    assert reply["error"]["message"].startswith(message)
    assert client.request("ping")["result"] == {}


def test_a_raw_control_character_in_a_big_write_is_bad_args_and_the_host_keeps_serving(env: dict[str, str]) -> None:
    """Chrome escapes control characters; unescaped inside a big request's data string (parsed around, not
    through, by the framing) it is the base64 check that refuses it (docs/protocol.md, "Protocol errors")."""
    body = b'{"id":9,"op":"write","args":{"socketId":1,"data":"' + b"QUJD" * 2000 + b'\x01"}}'
    raw = frame(body)
    msgs = parse_frames(run_host(message(HELLO) + raw + message({"id": 8, "op": "ping"}), env).stdout)
    assert (msgs[1]["id"], error_code(msgs[1])) == (9, "bad_args")
    assert msgs[1]["error"]["message"].startswith("write: data is not valid base64")
    assert msgs[2] == {"id": 8, "result": {}}


def test_protocol_mismatch_names_both_versions_and_the_fix(env: dict[str, str]) -> None:
    c = HostClient(env=env, hello=False)
    try:
        reply = c.request("hello", protocol=99, client="resocket-extension/9.0.0")
        assert error_code(reply) == "protocol_mismatch"
        message = reply["error"]["message"]
        assert "protocol 99" in message and "protocol 1" in message and "pip install -U resocket" in message
        assert error_code(c.request("ping")) == "hello_required"
    finally:
        c.close()


def test_origin_relay_is_refused_for_a_caller_that_is_not_the_extension(env: dict[str, str]) -> None:
    c = HostClient(env=env, hello=False)
    try:
        reply = c.request("hello", protocol=1, client="tests/1", origin="https://example.com")
        assert error_code(reply) == "origin_not_allowed"
        assert DEFAULT_ORIGIN in reply["error"]["message"]
    finally:
        c.close()


def test_origin_relay_from_the_extension_uses_the_page_origin_and_its_grants(env: dict[str, str]) -> None:
    grant(env, "https://example.com", "udp-bind:*:*")
    c = HostClient(EXTENSION_ORIGIN, env=env, hello=False)
    try:
        result = c.request("hello", protocol=1, client="tests/1", origin="https://example.com")["result"]
        assert result["origin"] == "https://example.com"
        assert result["rules"] == ["udp-bind:*:*"]
    finally:
        c.close()


def test_the_fleet_file_trusts_an_own_build_of_the_extension_to_relay(env: dict[str, str],
                                                                       tmp_path: Path) -> None:
    fork = "chrome-extension://ponmlkjihgfedcbaponmlkjihgfedcba/"
    system = tmp_path / "system"
    system.mkdir()
    env = {**env, "RESOCKET_SYSTEM_CONFIG_DIR": str(system)}
    untrusted = HostClient(fork, env=env, hello=False)
    try:
        refused = untrusted.request("hello", protocol=1, client="tests/1", origin="https://a.example")
        assert refused["error"]["code"] == "origin_not_allowed"
        assert "resocket install --scope system --relay-id" in refused["error"]["message"]
    finally:
        untrusted.close()
    (system / "extensions.json").write_text(json.dumps({"version": 1, "relay": [fork]}))
    c = HostClient(fork, env=env, hello=False)
    try:
        result = c.request("hello", protocol=1, client="tests/1", origin="https://a.example")["result"]
        assert result["origin"] == "https://a.example"
    finally:
        c.close()


def test_duplicate_in_flight_id_is_refused_while_the_first_request_waits(listener_client: HostClient) -> None:
    client = listener_client
    socket_id = client.call("create", type="tcp").value["socketId"]
    assert client.call("listen", socketId=socket_id, address="127.0.0.1", port=0).value == 0
    accept = client.start("accept", socketId=socket_id)
    client.send({"id": accept.id, "op": "getInfo", "args": {"socketId": socket_id}})
    reply = accept.wait(TIMEOUT)
    assert error_code(reply) == "duplicate_id" and str(accept.id) in reply["error"]["message"]
    assert not accept.done()  # the accept itself is still waiting
    client.call("destroy", socketId=socket_id)
    final = accept.wait(TIMEOUT)  # destroying the socket ends the accept: its one reply
    assert "args" in final


def test_create_end_to_end_returns_a_socket_id(client: HostClient) -> None:
    first = client.call("create", type="tcp").value["socketId"]
    second = client.call("create", type="udp", options={}).value["socketId"]
    assert isinstance(first, int) and second > first


def test_oversized_frame_is_refused_skipped_without_storing_and_serving_continues(
        env: dict[str, str]) -> None:
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to read the host's peak memory")
    claimed = 1 << 30  # 1 GiB, 16x Chrome's inbound cap
    c = HostClient(env=env)
    try:
        c.send_raw(frame(b"", claimed=claimed))
        refused = c.unsolicited.get(timeout=TIMEOUT)  # reported as soon as the length prefix arrives
        assert (refused["id"], error_code(refused)) == (None, "frame_too_large")
        assert str(claimed) in refused["error"]["message"]
        block = bytes(1 << 20)
        for _ in range(claimed >> 20):
            c.send_raw(block)
        assert c.request("ping", timeout=TIMEOUT) == {"id": 2, "result": {}}
        status = Path(f"/proc/{c.proc.pid}/status").read_text()
        peak_kib = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
        assert peak_kib < 150 * 1024, f"host peak RSS {peak_kib} KiB after skipping a 1 GiB frame"
    finally:
        assert c.close() == 0


def test_stdin_eof_closes_the_host_with_exit_code_0(client: HostClient) -> None:
    client.call("create", type="tcp")
    assert client.close(timeout=TIMEOUT) == 0


def test_stdin_eof_before_hello_exits_0(env: dict[str, str]) -> None:
    c = HostClient(env=env, hello=False)
    assert c.close(timeout=TIMEOUT) == 0


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_shuts_down_cleanly_with_exit_code_0(listener_client: HostClient) -> None:
    client = listener_client
    socket_id = client.call("create", type="tcp").value["socketId"]
    assert client.call("listen", socketId=socket_id, address="127.0.0.1", port=0).value == 0
    accept = client.start("accept", socketId=socket_id)
    assert not accept.done()  # a socket is listening and a request waits when the signal comes
    client.proc.send_signal(signal.SIGTERM)
    assert client.proc.wait(TIMEOUT) == 0
    assert "Traceback" not in client.stderr_text()


def test_windows_parent_window_argument_is_ignored(env: dict[str, str]) -> None:
    c = HostClient(env=env, args=["--parent-window=0"])
    try:
        assert c.request("ping")["result"] == {}
    finally:
        assert c.close() == 0


@pytest.mark.parametrize("addon,allowed", [("resocket@resocket.org", True), ("other@example.org", False)])
def test_firefox_arguments_name_the_caller_by_its_add_on_id(env: dict[str, str], addon: str, allowed: bool) -> None:
    """Firefox starts a host with [<manifest path>, <add-on ID>]: resocket's add-on is the resocket extension
    (its grants; it may speak for web pages), any other add-on has no grants and can have none."""
    grant(env, EXTENSION_ORIGIN, "tcp-listen:127.0.0.1:*")
    manifest = "/home/user/.mozilla/native-messaging-hosts/org.resocket.host.json"
    c = HostClient(manifest, env={**env, "RESOCKET_LOG": "info"}, args=[addon])
    try:
        if allowed:
            sid = c.call("create", type="tcp").value["socketId"]
            assert c.call("listen", socketId=sid, address="127.0.0.1", port=0).value == 0
        else:  # no grant can name another add-on: every call is refused, and says so
            refused = c.request("create", type="tcp")["error"]
            assert refused["code"] == "not_granted" and "cannot be granted" in refused["message"], refused
    finally:
        assert c.close() == 0
    logged = c.stderr_text()
    assert (f"for {EXTENSION_ORIGIN}" if allowed else "firefox-addon:other@example.org") in logged, logged


def test_log_file_option_receives_the_logs(env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "host.log"
    done = run_host(message(HELLO), {**env, "RESOCKET_LOG": "info"}, args=("--log-file", str(log)))
    assert done.returncode == 0
    assert "hello from tests/1" in log.read_text()
    assert done.stderr == b""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_while_waiting_on_stdin_exits_0(env: dict[str, str]) -> None:
    c = HostClient(env=env, hello=False)
    assert error_code(c.request("ping")) == "hello_required"  # it is up and blocked reading stdin
    c.proc.send_signal(signal.SIGTERM)
    assert c.proc.wait(TIMEOUT) == 0
    assert "Traceback" not in c.stderr_text()


@pytest.mark.parametrize("first", [
    {"op": "x" * 2_000_000},
    {"id": 1, "op": "hello", "args": {"protocol": 2, "client": "x" * 2_000_000}},
], ids=["2 MB op without id", "2 MB client name in a mismatched hello"])
def test_client_text_never_makes_a_reply_chrome_would_refuse(env: dict[str, str], first: dict) -> None:
    out = run_host(message(first) + message(HELLO) + message({"id": 9, "op": "ping"}), env)
    msgs = parse_frames(out.stdout)
    assert out.returncode == 0, out.stderr.decode(errors="replace")[-2000:]
    assert len(msgs) == 3 and "error" in msgs[0] and msgs[2] == {"id": 9, "result": {}}
    assert len(json.dumps(msgs[0])) < 1000  # the client's text is quoted, clipped


def test_a_relayed_hello_with_a_huge_origin_is_refused_and_the_host_keeps_serving(env: dict[str, str]) -> None:
    hello = message({"id": 1, "op": "hello", "args": {"protocol": 1, "client": "t", "origin": "h" * 2_000_000}})
    out = run_host(hello + message({**HELLO, "id": 2}) + message({"id": 9, "op": "ping"}), env,
                   origin=EXTENSION_ORIGIN)
    msgs = parse_frames(out.stdout)
    assert out.returncode == 0
    assert [(m["id"], m.get("error", {}).get("code")) for m in msgs] == [(1, "bad_args"), (2, None), (9, None)]


def test_a_failed_chunk_sequence_is_answered_by_its_final_request_not_a_later_one(env: dict[str, str]) -> None:
    data = (message({"id": 1, "chunk": "AAAA"}) + message(HELLO) + message(HELLO) + message({"id": 7, "chunk": "AA==", "op": "write"})
            + message({"id": 7, "op": "ping"}) + message({"id": 7, "op": "ping"}))
    msgs = parse_frames(run_host(data, env).stdout)
    assert [(m["id"], m.get("error", {}).get("code")) for m in msgs] == [
        (1, "hello_required"), (1, None), (7, "bad_request"), (7, None)]


def test_a_browser_slow_to_read_stdout_does_not_stall_the_hosts_sockets(env: dict[str, str]) -> None:
    """The host asks for 1 MiB pipe buffers (Linux): with read-ahead frames for 512 KiB waiting unread in its
    stdout, a write request still reaches its peer. With the default 64 KiB pipe the host blocked on the first
    frame until the browser read it, and handled nothing else meanwhile."""
    import socket
    import time

    if not sys.platform.startswith("linux"):
        pytest.skip("F_SETPIPE_SZ is Linux's")
    grant(env, DEFAULT_ORIGIN, "tcp-connect")
    proc = subprocess.Popen([sys.executable, "-m", "resocket.client.serve", DEFAULT_ORIGIN], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, **env})
    srv = socket.create_server(("127.0.0.1", 0))
    assert proc.stdin is not None and proc.stdout is not None

    def send(msg: dict) -> None:
        proc.stdin.write(message(msg))
        proc.stdin.flush()

    def reply() -> dict:
        return read_message(proc.stdout)

    try:
        send({"id": 1, "op": "hello", "args": {"protocol": 1, "client": "tests/1"}})
        assert "result" in reply()
        send({"id": 2, "op": "create", "args": {"type": "tcp"}})
        sid = reply()["args"][0]["socketId"]
        send({"id": 3, "op": "connect", "args": {"socketId": sid, "hostname": "127.0.0.1",
                                                  "port": srv.getsockname()[1]}})
        conn, _ = srv.accept()
        assert reply()["args"] == [0]
        conn.sendall(b"first")
        send({"id": 4, "op": "read", "args": {"socketId": sid, "bufferSize": 5, "stream": True}})
        assert reply()["args"][0]["resultCode"] == 5
        conn.sendall(os.urandom(512 * 1024))  # pushed as ~700 KB of frames that nobody reads
        time.sleep(0.5)
        send({"id": 5, "op": "write", "args": {"socketId": sid, "data": "cGluZw=="}})
        conn.settimeout(TIMEOUT)
        assert conn.recv(16) == b"ping"
        conn.close()
    finally:
        srv.close()
        proc.kill()
        proc.wait()


def test_a_host_name_of_thousands_of_digits_is_answered_as_a_short_number_too_big_for_an_address(
        env: dict[str, str]) -> None:
    """A decimal IPv4 part past int()'s 4300-digit limit once raised in the IP literal parser: connect and
    sendTo were never answered, bind, listen and joinGroup answered `internal`. Each now answers as for a
    300-digit number: no address, and too long for a host name."""
    grant(env, GRANTED, "tcp-connect:*:*", "tcp-connect:*.example.com:*", "tcp-listen:*:*", "udp-bind:*:*",
          "udp-send-to:*:*", "udp-multicast-membership")

    def answers(host: str) -> list:
        c = HostClient(GRANTED, env=env)
        try:
            tcp, listener, udp = (c.call("create", type=t).value["socketId"] for t in ("tcp", "tcp", "udp"))
            got = [c.request("connect", socketId=tcp, hostname=host, port=80),
                   c.request("listen", socketId=listener, address=host, port=0),
                   c.request("bind", socketId=udp, address=host, port=0),
                   c.request("bind", socketId=udp, address="127.0.0.1", port=0),
                   c.request("sendTo", socketId=udp, data="eA==", address=host, port=9),
                   c.request("joinGroup", socketId=udp, address=host),
                   c.request("tcp.create"),
                   c.request("tcp.connect", socketId=1, peerAddress=host, peerPort=80),
                   c.request("udp.create")]
            got.append(c.request("udp.bind", socketId=1, address="127.0.0.1", port=0))
            got.append(c.request("udp.send", socketId=1, data="eA==", address=host, port=9))
            return [{k: v for k, v in reply.items() if k != "id"} for reply in got]
        finally:
            c.close()

    short = answers("1" * 300)
    assert not [a for a in short if "error" in a], short
    assert answers("1" * 5000) == short


def test_a_second_secure_while_the_first_is_in_flight_fails_and_removes_the_socket(env: dict[str, str]) -> None:
    """Chrome 156 (oracle secure_twice): the second secure() gets -2 net::ERR_FAILED and the socket is gone;
    the first is cut short (answered ERR_ABORTED, which the shim never calls back). It used to be lost."""
    grant(env, GRANTED, "tcp-connect:*:*")
    with socket.create_server(("127.0.0.1", 0)) as server:  # accepts, never speaks TLS
        c = HostClient(GRANTED, env=env)
        try:
            sid = c.call("create", type="tcp").value["socketId"]
            assert c.call("connect", socketId=sid, hostname="localhost", port=server.getsockname()[1]).value == 0
            first, second = c.start("secure", socketId=sid), c.start("secure", socketId=sid)
            cut, failed = first.result(), second.result()
            assert (failed.args, failed.last_error) == ([-2], "net::ERR_FAILED")
            assert (cut.args, cut.last_error) == ([-3], "net::ERR_ABORTED")
            assert c.call("getInfo", socketId=sid).last_error == "Socket not found"
        finally:
            c.close()


def test_calls_while_secure_is_in_flight_answer_as_a_socket_mid_upgrade(env: dict[str, str]) -> None:
    """Chrome 156 (oracle secure_busy): read and write -15, getInfo still "tcp"; setNoDelay and setKeepAlive
    false (one of Chrome's racing outcomes). A read used to get -1."""
    grant(env, GRANTED, "tcp-connect:*:*")
    with socket.create_server(("127.0.0.1", 0)) as server:  # accepts, never speaks TLS: the handshake waits
        c = HostClient(GRANTED, env={**env, "RESOCKET_TLS_HANDSHAKE_TIMEOUT": "5"})
        try:
            sid = c.call("create", type="tcp").value["socketId"]
            assert c.call("connect", socketId=sid, hostname="localhost", port=server.getsockname()[1]).value == 0
            c.start("secure", socketId=sid)
            assert c.call("read", socketId=sid).value == {"resultCode": -15, "data": ""}
            assert c.call("write", socketId=sid, data="eA==").value == {"bytesWritten": -15}
            assert c.call("setNoDelay", socketId=sid, noDelay=True).value is False
            assert c.call("setKeepAlive", socketId=sid, enable=True).value is False
            info = c.call("getInfo", socketId=sid).value
            assert (info["socketType"], info["connected"]) == ("tcp", True)
        finally:
            c.close()
