"""Whole-host scenarios: permissions (4.3), write quota (7.3), unload/relisten (7.5), clean exit."""
from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.hostclient import b64
from tests.support.servers import HTTP_REQUEST, HttpEchoServer, TcpServer, UdpEchoServer, start_host

NO_PERMISSION = "App does not have permission"


def test_denied_calls_answer_minus_one_and_send_nothing(tmp_path: Path) -> None:
    host = start_host(tmp_path, ["tcp-connect:localhost:*"])
    try:
        with TcpServer() as tcp, UdpEchoServer() as udp:
            ok = host.call("create", type="tcp").value["socketId"]
            assert host.call("connect", socketId=ok, hostname="localhost", port=tcp.port).args == [0]
            denied = host.call("create", type="tcp").value["socketId"]
            res = host.call("connect", socketId=denied, hostname="127.0.0.1", port=tcp.port)
            assert (res.args, res.last_error) == ([-1], NO_PERMISSION)
            res = host.call("listen", socketId=denied, address="127.0.0.1", port=0)
            assert (res.args, res.last_error) == ([-1], NO_PERMISSION)
            u = host.call("create", type="udp").value["socketId"]
            res = host.call("bind", socketId=u, address="0.0.0.0", port=0)
            assert (res.args, res.last_error) == ([-1], NO_PERMISSION)
            res = host.call("connect", socketId=u, hostname="127.0.0.1", port=udp.port)
            assert (res.args, res.last_error) == ([-1], NO_PERMISSION)
            res = host.call("sendTo", socketId=u, data=b64(b"x"), address="127.0.0.1", port=udp.port)
            assert (res.args, res.last_error) == ([-1], NO_PERMISSION)
            for op in ("joinGroup", "leaveGroup"):
                res = host.call(op, socketId=u, address="237.132.100.133")
                assert (res.args, res.last_error) == ([-1], NO_PERMISSION)
            assert host.call("getJoinedGroups", socketId=u).args == [-1]
            assert host.call("setMulticastTimeToLive", socketId=u, ttl=2).args == [0]  # no permission needed
            time.sleep(0.2)
            assert tcp.accepted == 1 and udp.received == []
    finally:
        host.close()


def test_write_quota_of_one_byte(tmp_path: Path) -> None:
    host = start_host(tmp_path, RESOCKET_WRITE_QUOTA="1")
    try:
        with HttpEchoServer() as http, UdpEchoServer() as udp:
            t = host.call("create", type="tcp").value["socketId"]
            assert host.call("connect", socketId=t, hostname="localhost", port=http.port).args == [0]
            res = host.call("write", socketId=t, data=b64(HTTP_REQUEST))
            assert (res.args, res.last_error) == ([], "Exceeded write quota.")
            assert host.call("write", socketId=999, data=b64(b"xy")).last_error == "Exceeded write quota."
            assert host.call("write", socketId=t, data=b64(b"P")).value == {"bytesWritten": 1}
            u = host.call("create", type="udp").value["socketId"]
            assert host.call("bind", socketId=u, address="0.0.0.0", port=0).args == [0]
            res = host.call("sendTo", socketId=u, data=b64(HTTP_REQUEST), address="127.0.0.1", port=udp.port)
            assert (res.args, res.last_error) == ([], "Exceeded write quota.")
            assert host.call("sendTo", socketId=u, data=b64(b"1"), address="127.0.0.1",
                             port=udp.port).value == {"bytesWritten": 1}
    finally:
        host.close()


def test_host_exit_closes_everything_and_the_port_is_reusable_at_once(tmp_path: Path) -> None:
    host = start_host(tmp_path)
    s = host.call("create", type="tcp").value["socketId"]
    assert host.call("listen", socketId=s, address="127.0.0.1", port=0).args == [0]
    port = host.call("getInfo", socketId=s).value["localPort"]
    with HttpEchoServer() as http:
        c = host.call("create", type="tcp").value["socketId"]
        host.call("connect", socketId=c, hostname="127.0.0.1", port=http.port)
        pending = host.start("read", socketId=c)
        accept = host.start("accept", socketId=s)
        u = host.call("create", type="udp").value["socketId"]
        host.call("bind", socketId=u, address="127.0.0.1", port=0)
        fds = os.listdir(f"/proc/{host.proc.pid}/fd")
        assert len(fds) >= 6  # stdio + 3 sockets + the loop's own
        started = time.monotonic()
        assert host.close(timeout=5) == 0
        assert time.monotonic() - started < 3
        assert not pending.done() or pending.q.get_nowait() is None
        assert not accept.done() or accept.q.get_nowait() is None
    second = start_host(tmp_path)  # 7.5: the same listen succeeds again after the "unload"
    try:
        s = second.call("create", type="tcp").value["socketId"]
        assert second.call("listen", socketId=s, address="127.0.0.1", port=port).args == [0]
    finally:
        second.close()


def test_no_descriptor_or_thread_leaks_after_many_sockets(tmp_path: Path) -> None:
    host = start_host(tmp_path)
    try:
        with TcpServer() as server:
            def counts() -> tuple[int, int]:
                fds = len(os.listdir(f"/proc/{host.proc.pid}/fd"))
                threads = len(os.listdir(f"/proc/{host.proc.pid}/task"))
                return fds, threads

            host.call("getInfo", socketId=1)
            baseline = counts()
            ids = []
            for _ in range(50):
                sid = host.call("create", type="tcp").value["socketId"]
                assert host.call("connect", socketId=sid, hostname="127.0.0.1", port=server.port).args == [0]
                host.start("read", socketId=sid)
                ids.append(sid)
            assert counts()[0] >= baseline[0] + 50
            for sid in ids:
                host.call("destroy", socketId=sid)
            host.call("getInfo", socketId=1)
            deadline = time.monotonic() + 5
            while counts() != baseline and time.monotonic() < deadline:
                time.sleep(0.05)
            assert counts() == baseline
    finally:
        host.close()


def test_a_refused_port_stays_refused_after_a_destroyed_listener(tmp_path: Path) -> None:
    host = start_host(tmp_path)
    try:
        s = host.call("create", type="tcp").value["socketId"]
        host.call("listen", socketId=s, address="127.0.0.1", port=0)
        port = host.call("getInfo", socketId=s).value["localPort"]
        host.call("destroy", socketId=s)
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0
    finally:
        host.close()
