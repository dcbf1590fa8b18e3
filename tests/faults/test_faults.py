"""Faults against real loopback peers: each gives the result Chrome gives (docs/chrome-behaviour.md, section 9
for what Chromium 156 does), and the `host` fixture proves no thread or descriptor is left behind.

Covered elsewhere, not repeated here: refused connect (-102) and DNS failure (-105/-106) in
tests/host/test_engine_tcp.py::test_connect_results; RST before a read in
test_peer_reset_reads_as_zero_then_disconnected; the host exit closing a listener in
tests/host/test_engine_scenarios.py.
"""
from __future__ import annotations

import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from faultkit import TIMEOUT, HostClient, b64, peer_sees_close, resources, start_host

CONNECTED_GONE = -15  # ERR_SOCKET_NOT_CONNECTED
WRITE_FAILED = -2  # ERR_FAILED: Chrome hides the errno of a broken send side


def listener() -> socket.socket:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(TIMEOUT)
    return srv


def connect_pair(host: HostClient, srv: socket.socket) -> tuple[int, socket.socket]:
    sid = host.call("create", type="tcp").value["socketId"]
    assert host.call("connect", socketId=sid, hostname="127.0.0.1", port=srv.getsockname()[1]).args == [0]
    conn, _ = srv.accept()
    conn.settimeout(TIMEOUT)
    return sid, conn


def reset(conn: socket.socket) -> None:
    """Close with RST instead of FIN."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def read_result(host: HostClient, sid: int) -> dict:
    return host.call("read", socketId=sid).value


def test_reset_while_a_read_is_pending_reads_zero_then_not_connected(host: HostClient) -> None:
    with listener() as srv:
        sid, conn = connect_pair(host, srv)
        pending = host.start("read", socketId=sid)
        conn.sendall(b"x")
        assert pending.result().data() == b"x"
        pending = host.start("read", socketId=sid)
        host.call("getInfo", socketId=sid)  # the read is queued on the socket before the reset
        reset(conn)
        assert pending.result().args == [{"resultCode": 0, "data": ""}]  # not -101: Chrome reads errors as EOF
        assert host.call("getInfo", socketId=sid).value["connected"] is False
        assert read_result(host, sid)["resultCode"] == CONNECTED_GONE
        assert host.call("write", socketId=sid, data=b64(b"y")).value == {"bytesWritten": CONNECTED_GONE}
        host.call("destroy", socketId=sid)


def test_reset_while_a_large_write_is_blocked_fails_it_with_minus_2_then_not_connected(host: HostClient) -> None:
    with listener() as srv:
        sid, conn = connect_pair(host, srv)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        big = host.start("write", socketId=sid, data=b64(bytes(16 << 20)))  # far beyond both socket buffers
        conn.recv(1)  # the transfer has started; the peer now stops reading and resets
        reset(conn)
        assert big.result(TIMEOUT).value == {"bytesWritten": WRITE_FAILED}
        assert host.call("getInfo", socketId=sid).value["connected"] is False
        assert host.call("write", socketId=sid, data=b64(b"y")).value == {"bytesWritten": CONNECTED_GONE}
        assert read_result(host, sid)["resultCode"] == CONNECTED_GONE
        host.call("destroy", socketId=sid)


def test_writes_to_a_vanished_peer_eventually_fail_with_minus_2(host: HostClient) -> None:
    with listener() as srv:
        sid, conn = connect_pair(host, srv)
        conn.close()  # FIN; the next segment we send draws an RST, then sends fail with EPIPE
        results = []
        for _ in range(200):
            result = host.call("write", socketId=sid, data=b64(b"z" * 1000)).value["bytesWritten"]
            results.append(result)
            if result < 0:
                break
            time.sleep(0.01)  # give the RST time to come back (not an assertion on timing)
        assert results[-1] == WRITE_FAILED, results
        assert all(r == 1000 for r in results[:-1])
        assert host.call("write", socketId=sid, data=b64(b"z")).value == {"bytesWritten": CONNECTED_GONE}
        host.call("destroy", socketId=sid)


def test_half_close_by_the_peer_delivers_its_data_then_eof_and_our_writes_still_arrive(host: HostClient) -> None:
    with listener() as srv:
        sid, conn = connect_pair(host, srv)
        conn.sendall(b"last words")
        conn.shutdown(socket.SHUT_WR)
        # chrome.socket is pull-based: until the page reads the EOF, the socket is connected and writable.
        assert host.call("write", socketId=sid, data=b64(b"still here")).value == {"bytesWritten": 10}
        got = b""
        while len(got) < 10:
            got += conn.recv(64)
        assert got == b"still here"
        data = b""
        while True:
            result = host.call("read", socketId=sid)
            if result.value["resultCode"] == 0:
                break
            data += result.data()
        assert data == b"last words"
        assert host.call("getInfo", socketId=sid).value["connected"] is False
        assert read_result(host, sid)["resultCode"] == CONNECTED_GONE
        assert host.call("write", socketId=sid, data=b64(b"y")).value == {"bytesWritten": CONNECTED_GONE}
        conn.close()
        host.call("destroy", socketId=sid)


SERVER = """
import socket, sys
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(4)
print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
while True:
    data = conn.recv(65536)
    if not data:
        break
    conn.sendall(data)
"""


def test_a_server_process_that_is_killed_reads_as_eof_and_its_port_refuses_reconnects(
        host: HostClient) -> None:
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        sid = host.call("create", type="tcp").value["socketId"]
        assert host.call("connect", socketId=sid, hostname="127.0.0.1", port=port).args == [0]
        assert host.call("write", socketId=sid, data=b64(b"ping")).value == {"bytesWritten": 4}
        assert host.call("read", socketId=sid).data() == b"ping"
        pending = host.start("read", socketId=sid)
        host.call("getInfo", socketId=sid)
        server.kill()
        server.wait(TIMEOUT)
        assert pending.result().args == [{"resultCode": 0, "data": ""}]
        assert read_result(host, sid)["resultCode"] == CONNECTED_GONE
        again = host.call("create", type="tcp").value["socketId"]
        assert host.call("connect", socketId=again, hostname="127.0.0.1", port=port).args == [-102]
        host.call("destroy", socketId=sid)
        host.call("destroy", socketId=again)
    finally:
        server.kill()
        server.wait()


@pytest.mark.parametrize("address", ["10.255.255.1", "192.0.2.1", "2001:db8::1"])
def test_connect_to_an_unroutable_address_while_offline_is_internet_disconnected(host: HostClient,
                                                                                  address: str) -> None:
    """In the test namespace only loopback has a route: the kernel answers ENETUNREACH at once (-109,
    net_errors_posix.cc), and with no interface but loopback Chrome counts as offline and says -106 instead
    (TCPSocketPosix::HandleConnectCompleted; Chromium 156, tests/e2e/scenarios/permission_rules.js)."""
    if any(name != "lo" for _, name in socket.if_nameindex()):
        pytest.skip("needs the loopback-only network namespace (tests/netns.sh)")
    sid = host.call("create", type="tcp").value["socketId"]
    result = host.call("connect", socketId=sid, hostname=address, port=80)
    assert (result.args, result.last_error) == ([-106], None)
    assert host.call("getInfo", socketId=sid).value["connected"] is False
    host.call("destroy", socketId=sid)


# The host in a namespace of its own where 192.0.2.2 has a route and a (fake) neighbour but no host behind it:
# SYNs go out on a veth pair and are never answered (nothing leaves the namespace). The kernel's SYN retries
# are cut to 1 there (a per-namespace sysctl), so the connect times out after ~3 s instead of ~2 minutes.
SILENT_PEER = ["unshare", "-n", "sh", "-c",
               ("ip link set lo up && ip link add rs0 type veth peer name rs1 && "
                "ip addr add 192.0.2.1/24 dev rs0 && ip link set rs0 up && ip link set rs1 up && "
                "ip neigh add 192.0.2.2 lladdr 02:00:00:00:00:02 dev rs0 && "
                'sysctl -qw net.ipv4.tcp_syn_retries=1 && exec "$@"'), "netns"]


def test_connect_to_a_peer_that_never_answers_times_out_as_chrome_does(tmp_path: Path) -> None:
    """Chrome leaves the connect timeout to the OS (ETIMEDOUT -> -118, net_errors_posix.cc); so does resocket."""
    host = start_host(tmp_path / "config", wrapper=SILENT_PEER)
    try:
        sid = host.call("create", type="tcp").value["socketId"]
        result = host.call("connect", socketId=sid, hostname="192.0.2.2", port=80, timeout=60)
        assert (result.args, result.last_error) == ([-118], None)
        assert host.call("getInfo", socketId=sid).value["connected"] is False
        assert host.call("read", socketId=sid).value["resultCode"] == -15  # a failed connect counts as after
    finally:
        assert host.close() == 0


def test_connect_to_an_unroutable_address_while_online_is_address_unreachable(tmp_path: Path) -> None:
    """With a link up (SILENT_PEER's namespace: a route to 192.0.2.0/24 only) the same ENETUNREACH stays -109."""
    host = start_host(tmp_path / "config", wrapper=SILENT_PEER)
    try:
        for address in ("10.255.255.1", "2001:db8::1"):
            sid = host.call("create", type="tcp").value["socketId"]
            result = host.call("connect", socketId=sid, hostname=address, port=80)
            assert (result.args, result.last_error) == ([-109], None), address
            host.call("destroy", socketId=sid)
    finally:
        assert host.close() == 0


def test_dns_failure_leaves_no_lookup_thread_behind(host: HostClient) -> None:
    for _ in range(5):
        sid = host.call("create", type="tcp").value["socketId"]
        result = host.call("connect", socketId=sid, hostname="nonexistent.invalid", port=80)
        assert result.args[0] in (-105, -106) and result.last_error == "DNS resolution failed"
        host.call("destroy", socketId=sid)


def test_secure_against_a_peer_that_never_answers_times_out_and_removes_the_socket(tmp_path: Path) -> None:
    host = start_host(tmp_path / "config", RESOCKET_TLS_HANDSHAKE_TIMEOUT="1")
    try:
        with listener() as srv:
            sid, conn = connect_pair(host, srv)  # accepts TCP, never says a TLS word
            result = host.start("secure", socketId=sid).result(TIMEOUT)
            assert (result.args, result.last_error) == ([-7], "net::ERR_TIMED_OUT")
            info = host.call("getInfo", socketId=sid)
            assert info.last_error == "Socket not found"
            assert peer_sees_close(conn)
            conn.close()
    finally:
        host.close()


def open_sockets(host: HostClient, srv: socket.socket, count: int) -> list[tuple[int, socket.socket]]:
    return [connect_pair(host, srv) for _ in range(count)]


def test_stdin_closed_mid_transfer_ends_the_host_and_every_connection(tmp_path: Path) -> None:
    """The page closed (or the extension reloaded) while data moved both ways on open sockets."""
    host = start_host(tmp_path / "config")
    with listener() as srv:
        pairs = open_sockets(host, srv, 4)
        sending = host.start("write", socketId=pairs[0][0], data=b64(bytes(8 << 20)))  # peer never reads
        pairs[1][1].sendall(bytes(1 << 20))  # nobody reads this either
        reading = host.start("read", socketId=pairs[2][0])
        sid = host.call("create", type="tcp").value["socketId"]
        host.call("listen", socketId=sid, address="127.0.0.1", port=0)
        port = host.call("getInfo", socketId=sid).value["localPort"]
        accepting = host.start("accept", socketId=sid)
        assert not sending.done() and not reading.done() and not accepting.done()
        assert host.close(timeout=TIMEOUT) == 0
        for _, conn in pairs:
            assert peer_sees_close(conn)
            conn.close()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # the listener is gone with the host


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_the_browser_ending_the_host_closes_every_socket(tmp_path: Path, sig: int) -> None:
    """Chrome sends SIGTERM when the port closes and the host lingers; a crash or kill is SIGKILL."""
    host = start_host(tmp_path / "config")
    with listener() as srv:
        pairs = open_sockets(host, srv, 3)
        host.start("read", socketId=pairs[0][0])
        host.start("write", socketId=pairs[1][0], data=b64(bytes(4 << 20)))
        host.call("getInfo", socketId=1)
        threads, _ = resources(host.proc.pid)
        assert threads >= 2
        host.proc.send_signal(sig)
        code = host.proc.wait(TIMEOUT)
        assert code == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
        for _, conn in pairs:
            assert peer_sees_close(conn)
            conn.close()
    host.close()
