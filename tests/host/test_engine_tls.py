"""secure(): TLS through a real resocket-host, trusting a test CA via SSL_CERT_FILE (docs/chrome-behaviour.md 2, secure)."""
from __future__ import annotations

import socket
import ssl
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.certs import Leaf, Pki
from tests.support.hostclient import HostClient, b64
from tests.support.servers import TlsEchoServer


def secured(host: HostClient, leaf: Leaf, hostname: str = "localhost", options: dict | None = None,
            versions: tuple[ssl.TLSVersion, ssl.TLSVersion] | None = None) -> tuple[int, object, TlsEchoServer]:
    server = TlsEchoServer(leaf.cert, leaf.key, versions=versions)
    sid = host.call("create", type="tcp").value["socketId"]
    assert host.call("connect", socketId=sid, hostname=hostname, port=server.port).args == [0]
    args = {} if options is None else {"options": options}
    return sid, host.call("secure", socketId=sid, **args), server


def test_secure_with_a_trusted_ca_then_plaintext_round_trip(host: HostClient, pki: Pki) -> None:
    sid, res, server = secured(host, pki.good)
    with server:
        assert (res.args, res.last_error) == ([0], None)  # type: ignore[attr-defined]
        info = host.call("getInfo", socketId=sid).value
        assert info["socketType"] == "udp" and info["connected"] is True  # quirk copied
        payload = bytes(range(256)) * 1024
        assert host.call("write", socketId=sid, data=b64(payload)).value == {"bytesWritten": len(payload)}
        got = b""
        while len(got) < len(payload):
            got += host.call("read", socketId=sid, bufferSize=1 << 20).data()
        assert got == payload
        assert host.call("connect", socketId=sid, hostname="localhost", port=server.port).args == [-104]
        listen = host.call("listen", socketId=sid, address="127.0.0.1", port=0)
        assert (listen.args, listen.last_error) == ([-11], "Cannot listen on a socket that is already connected.")
        assert host.call("setNoDelay", socketId=sid, noDelay=True).args == [False]
        assert host.call("setKeepAlive", socketId=sid, enable=True).args == [False]
        again = host.call("secure", socketId=sid)
        assert (again.args, again.last_error) == ([-4], "Only TCP sockets are supported for TLS.")
        assert host.call("recvFrom", socketId=sid).last_error == "Socket not found"
        host.call("disconnect", socketId=sid)
        assert host.call("read", socketId=sid).value["resultCode"] == -15
        host.call("destroy", socketId=sid)
        assert server.versions_seen == ["TLSv1.3"]  # read/write above ran after the server's handshake


@pytest.mark.parametrize("leaf_name,hostname,code", [
    ("self_signed", "localhost", -202),
    ("wrong_name", "localhost", -200),
    ("expired", "localhost", -201),
])
def test_certificate_failures_are_chrome_codes_and_remove_the_socket(host: HostClient, pki: Pki,
                                                                     leaf_name: str, hostname: str,
                                                                     code: int) -> None:
    names = {-202: "AUTHORITY", -200: "COMMON_NAME", -201: "DATE"}
    sid, res, server = secured(host, getattr(pki, leaf_name), hostname)
    with server:
        assert (res.args, res.last_error) == ([code], f"net::ERR_CERT_{names[code]}_INVALID")  # type: ignore[attr-defined]
        assert host.call("getInfo", socketId=sid).last_error == "Socket not found"


def test_tls_version_options_are_honoured(host: HostClient, pki: Pki) -> None:
    sid, res, server = secured(host, pki.good, options={"tlsVersion": {"min": "tls1", "max": "tls1.2"}})
    with server:
        assert res.args == [0]  # type: ignore[attr-defined]
        host.call("write", socketId=sid, data=b64(b"x"))
        assert host.call("read", socketId=sid).data() == b"x"  # the server has finished its side too
        assert server.versions_seen == ["TLSv1.2"]
        host.call("destroy", socketId=sid)
    only13 = (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3)
    sid, res, server = secured(host, pki.good, options={"tlsVersion": {"max": "tls1.2"}}, versions=only13)
    with server:
        assert res.args[0] in (-113, -107)  # type: ignore[attr-defined]
        assert host.call("getInfo", socketId=sid).last_error == "Socket not found"


def test_a_min_version_above_the_max_is_a_protocol_error_and_the_socket_is_gone(host: HostClient, pki: Pki) -> None:
    # Chrome 156 (tls_versions scenario): -107 + net::ERR_SSL_PROTOCOL_ERROR, not a version mismatch.
    sid, res, server = secured(host, pki.good, options={"tlsVersion": {"min": "tls1.3", "max": "tls1.2"}})
    with server:
        assert (res.args, res.last_error) == ([-107], "net::ERR_SSL_PROTOCOL_ERROR")  # type: ignore[attr-defined]
        assert host.call("getInfo", socketId=sid).last_error == "Socket not found"


@pytest.mark.parametrize("versions", [{"min": [], "max": {}}, {"min": {"a": 1}}, {"max": ["tls1.2"]}, {"min": 5}])
def test_version_names_that_are_not_strings_mean_the_defaults_not_an_internal_error(
        host: HostClient, pki: Pki, versions: dict) -> None:
    """The shim refuses such options as Chrome's renderer does; a client that skips it gets the defaults (an
    object or array here once made the version lookup raise, and the call end as an `internal` error)."""
    sid, res, server = secured(host, pki.good, options={"tlsVersion": versions})
    with server:
        assert res.args == [0]  # type: ignore[attr-defined]
        host.call("write", socketId=sid, data=b64(b"y"))
        assert host.call("read", socketId=sid).data() == b"y"
        host.call("destroy", socketId=sid)


def test_secure_with_a_pending_read_fails_and_destroys(host: HostClient, pki: Pki) -> None:
    server = TlsEchoServer(pki.good.cert, pki.good.key)
    with server:
        sid = host.call("create", type="tcp").value["socketId"]
        host.call("connect", socketId=sid, hostname="localhost", port=server.port)
        pending = host.start("read", socketId=sid)
        res = host.call("secure", socketId=sid)
        assert (res.args, res.last_error) == ([-2], "net::ERR_FAILED")
        assert pending.result().value["resultCode"] == -100
        assert host.call("getInfo", socketId=sid).last_error == "Socket not found"


def test_secure_against_a_plain_server_is_a_protocol_error(host: HostClient) -> None:
    from tests.support.servers import TcpServer

    class PlainServer(TcpServer):
        def serve(self, conn: socket.socket) -> None:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    with PlainServer() as server:
        sid = host.call("create", type="tcp").value["socketId"]
        host.call("connect", socketId=sid, hostname="localhost", port=server.port)
        res = host.call("secure", socketId=sid)
        assert (res.args, res.last_error) == ([-107], "net::ERR_SSL_PROTOCOL_ERROR")
        assert host.call("getInfo", socketId=sid).last_error == "Socket not found"


@pytest.mark.parametrize("hostname, sni", [("LocalHost", "localhost"), ("127.0.0.1", None)])
def test_sni_is_the_hostname_given_to_connect_canonicalized(host: HostClient, pki: Pki, hostname: str,
                                                            sni: str | None) -> None:
    sid, _res, server = secured(host, pki.good, hostname=hostname)
    with server:
        host.call("destroy", socketId=sid)
    assert server.sni_seen == [sni]
