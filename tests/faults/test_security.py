"""The defences of docs/SECURITY.md that no other test proves, against a real host and real listeners.

"Sent nothing" is proven without waiting: a denied call is answered only after the decision, so any
packet it had sent would already sit in the listener's queue when the reply arrives. After the reply,
the test sends a marker of its own; the marker must be the first thing the listener sees.
"""
from __future__ import annotations

import ast
import os
import socket
from pathlib import Path

import pytest
import resocket
from faultkit import TIMEOUT, HostClient, b64, peer_sees_close, start_host
from resocket import EXTENSION_ORIGIN
from resocket.grants import GrantStore

NO_PERMISSION = "App does not have permission"
PAGE = "https://page.example"
OTHER_PAGE = "https://other.example"
def module_file(package: Path, name: str) -> Path:
    """The source of module `name` of the package ("engine.tcp"; a package is its __init__.py)."""
    path = package.joinpath(*name.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def host_modules() -> list[str]:
    """The package's modules that `resocket-host` can import: `client.serve` and what it imports of the
    package, at any depth (also imports inside functions), read from the source; dotted below `resocket`."""
    package = Path(resocket.__file__).parent
    found, todo = set(), ["__init__", "client.serve"]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        for node in ast.walk(ast.parse(module_file(package, name).read_text(), filename=f"{name}.py")):
            if isinstance(node, ast.Import):
                names = [a.name.split(".", 1)[1] for a in node.names if a.name.startswith("resocket.")]
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("resocket."):
                base = node.module.split(".", 1)[1]
                # `from resocket.engine import tcp` imports a module; `from resocket.engine.tcp import X` a name
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module == "resocket":
                names = [a.name for a in node.names]  # modules, or names of __init__ (dropped below)
            else:
                continue
            todo += [n for n in names if module_file(package, n).exists()]
    return sorted(found)


def test_the_host_imports_the_core_modules_and_never_the_command_line_ones() -> None:
    """The closure below is what the static checks read; the CLI modules print() to stdout, which in the
    host carries frames only (docs/architecture.md), so the host must never import them."""
    modules = host_modules()
    assert {"client.serve", "client.transport", "wire.framing", "wire.protocol", "engine.loop", "engine.tcp",
            "engine.udp", "engine.tls", "grants", "chrome.permissions", "engine.sockets_api", "engine.datachannel",
            "chrome.iplit", "chrome.netcodes", "engine.netlist"} <= set(modules), modules
    assert not [m for m in modules if m == "cli" or m.startswith("cli.")]


def first_connection_is_the_marker(srv: socket.socket) -> bool:
    with socket.create_connection(srv.getsockname(), timeout=TIMEOUT) as marker:
        conn, peer = srv.accept()
        conn.close()
        return peer == marker.getsockname()


def first_datagram_is_the_marker(sink: socket.socket) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
        out.sendto(b"marker", sink.getsockname())
    sink.settimeout(TIMEOUT)
    return sink.recv(64) == b"marker"


@pytest.fixture
def servers() -> tuple[socket.socket, socket.socket]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(TIMEOUT)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    yield srv, sink
    srv.close()
    sink.close()


def relayed_host(config: Path, page: str) -> HostClient:
    """The extension's host process speaking for a web page, as the service worker runs it."""
    client = HostClient(EXTENSION_ORIGIN, env={"RESOCKET_CONFIG_DIR": str(config)}, hello=False)
    client.hello_result = client.request("hello", protocol=1, client="tests/1", origin=page)["result"]
    return client


def test_a_relayed_page_gets_only_its_own_grants_and_a_denied_call_sends_nothing(
        tmp_path: Path, servers: tuple[socket.socket, socket.socket]) -> None:
    srv, sink = servers
    config = tmp_path / "config"
    store = GrantStore.open(config)
    store.grant(EXTENSION_ORIGIN, ["tcp-connect", "udp-send-to", "udp-bind"])  # the extension: everything
    store.grant(OTHER_PAGE, ["tcp-connect", "udp-send-to", "udp-bind"])  # another site: everything
    store.grant(PAGE, ["tcp-connect:127.0.0.1:1"])  # this page: one port, not the listener's
    host = relayed_host(config, PAGE)
    try:
        assert host.hello_result["origin"] == PAGE and host.hello_result["rules"] == ["tcp-connect:127.0.0.1:1"]
        tcp = host.call("create", type="tcp").value["socketId"]
        denied = host.call("connect", socketId=tcp, hostname="127.0.0.1", port=srv.getsockname()[1])
        assert (denied.args, denied.last_error) == ([-1], NO_PERMISSION)
        assert first_connection_is_the_marker(srv)
        udp = host.call("create", type="udp").value["socketId"]
        assert host.call("bind", socketId=udp, address="127.0.0.1", port=0).last_error == NO_PERMISSION
        denied = host.call("sendTo", socketId=udp, data=b64(b"leak"), address="127.0.0.1",
                           port=sink.getsockname()[1])
        assert (denied.args, denied.last_error) == ([-1], NO_PERMISSION)
        denied = host.call("connect", socketId=udp, hostname="127.0.0.1", port=sink.getsockname()[1])
        assert (denied.args, denied.last_error) == ([-1], NO_PERMISSION)
        assert first_datagram_is_the_marker(sink)
    finally:
        host.close()


def test_a_relayed_page_cannot_switch_to_another_origin_or_manage_grants(tmp_path: Path) -> None:
    config = tmp_path / "config"
    GrantStore.open(config).grant(OTHER_PAGE, ["tcp-connect"])
    host = relayed_host(config, PAGE)
    try:
        again = host.request("hello", protocol=1, client="tests/1", origin=OTHER_PAGE)
        assert again["error"]["code"] == "bad_request"
        assert host.request("grants.list")["error"]["code"] == "not_allowed"
        assert host.request("grants.revoke", origin=OTHER_PAGE)["error"]["code"] == "not_allowed"
        assert GrantStore.open(config).rules_for(OTHER_PAGE) == ["tcp-connect:*:*"]
        # Still serving, as PAGE, which holds no grant: refused, naming the command for PAGE (not OTHER_PAGE).
        refused = host.request("getInfo", socketId=1)["error"]
        assert refused["code"] == "not_granted" and f"resocket grant {PAGE} " in refused["message"], refused
    finally:
        host.close()


@pytest.mark.parametrize("caller", ["chrome-extension://abcdefghijklmnopabcdefghijklmnop/",
                                    "chrome-extension://FLGDMCPAEMONPACJPIGCAFOBMLLIKOCP/", "https://page.example/"])
def test_only_the_extension_may_name_an_origin(tmp_path: Path, caller: str) -> None:
    client = HostClient(caller, env={"RESOCKET_CONFIG_DIR": str(tmp_path)}, hello=False)
    try:
        reply = client.request("hello", protocol=1, client="tests/1", origin=PAGE)
        assert reply["error"]["code"] == "origin_not_allowed"
        assert client.request("ping")["error"]["code"] == "hello_required"  # no session was opened
    finally:
        client.close()


def test_the_socket_cap_refuses_with_a_clear_error_and_frees_on_destroy(tmp_path: Path) -> None:
    host = start_host(tmp_path / "config", RESOCKET_MAX_SOCKETS="3")
    try:
        ids = [host.call("create", type=kind).value["socketId"] for kind in ("tcp", "udp", "tcp")]
        refused = host.request("create", type="udp")
        assert refused["error"]["code"] == "too_many_sockets" and "3" in refused["error"]["message"]
        # An accepted connection counts too: at the cap, accept fails (-2) and the peer is let go.
        assert host.call("listen", socketId=ids[0], address="127.0.0.1", port=0).args == [0]
        port = host.call("getInfo", socketId=ids[0]).value["localPort"]
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as peer:
            assert host.call("accept", socketId=ids[0]).value == {"resultCode": -2}
            assert peer_sees_close(peer)
        host.call("destroy", socketId=ids[1])
        assert host.call("create", type="udp").value["socketId"] == ids[2] + 1
    finally:
        host.close()


def inet_socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for table in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if path.exists():
            inodes |= {line.split()[9] for line in path.read_text().splitlines()[1:]}
    return inodes


@pytest.mark.skipif(not Path("/proc/self/net/tcp").exists(), reason="reads socket tables from /proc")
def test_the_host_opens_no_network_socket_until_the_page_asks(tmp_path: Path) -> None:
    """Other local processes can reach the host only through sockets it opened for the page."""
    host = start_host(tmp_path / "config")
    try:
        host.call("getInfo", socketId=1)
        host.call("getNetworkList")
        fd_dir = Path(f"/proc/{host.proc.pid}/fd")
        links = [os.readlink(fd_dir / fd) for fd in os.listdir(fd_dir)]
        sockets = {link[len("socket:["):-1] for link in links if link.startswith("socket:[")}
        assert not sockets & inet_socket_inodes(host.proc.pid), links
    finally:
        host.close()


def connected_with_ten_bytes(host: HostClient, srv: socket.socket) -> tuple[int, socket.socket]:
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    sid = host.call("create", type="tcp").value["socketId"]
    assert host.call("connect", socketId=sid, hostname="127.0.0.1", port=srv.getsockname()[1]).args == [0]
    conn, _ = srv.accept()
    conn.sendall(b"0123456789")
    return sid, conn


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the host's memory from /proc")
def test_a_huge_read_buffer_size_is_a_claim_not_an_allocation(tmp_path: Path) -> None:
    host = start_host(tmp_path / "config")
    try:
        with socket.socket() as srv:
            sid, conn = connected_with_ten_bytes(host, srv)
            with conn:
                before = vm_kib(host.proc.pid, "VmPeak")
                result = host.call("read", socketId=sid, bufferSize=2**31 - 1)  # the largest int32
                assert result.value["resultCode"] == 10 and result.data() == b"0123456789"
                assert vm_kib(host.proc.pid, "VmPeak") - before < 256 * 1024, "address space grew by the claim"
    finally:
        host.close()


@pytest.mark.parametrize("size", [2**31, 2**40, -(2**31) - 1])
def test_integers_beyond_int32_are_bad_args_and_the_socket_lives_on(tmp_path: Path, size: int) -> None:
    host = start_host(tmp_path / "config")
    try:
        with socket.socket() as srv:
            sid, conn = connected_with_ten_bytes(host, srv)
            with conn:
                assert host.request("read", socketId=sid, bufferSize=size)["error"]["code"] == "bad_args"
                assert host.call("read", socketId=sid).data() == b"0123456789"
                assert host.call("getInfo", socketId=sid).value["connected"] is True
    finally:
        host.close()


def vm_kib(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith(field + ":")))


#: Builtins and attributes through which a message could become code or a command.
FORBIDDEN_BUILTINS = {"eval", "exec", "compile", "__import__", "breakpoint"}
FORBIDDEN_ATTRIBUTES = {"system", "popen", "_create_unverified_context", "import_module"}
FORBIDDEN_MODULES = {"subprocess", "pickle", "marshal", "shelve", "importlib", "code", "codeop", "runpy"}


def test_no_message_can_reach_code_or_command_execution() -> None:
    """Static: the modules the host runs import nothing that executes code or commands, call no
    eval/exec/system/Popen, and never turn certificate checks off. Dynamic dispatch is by the operation
    table only (the fuzz tests check every Call names a table entry)."""
    package = Path(resocket.__file__).parent
    problems = []
    for name in host_modules():
        tree = ast.parse(module_file(package, name).read_text(), filename=f"{name}.py")
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                problems += [f"{name}: import {a.name}" for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
                problems.append(f"{name}: from {node.module} import ...")
            elif isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name) and func.id in FORBIDDEN_BUILTINS:
                    problems.append(f"{name}:{node.lineno}: {func.id}()")
                if isinstance(func, ast.Attribute) and (func.attr in FORBIDDEN_ATTRIBUTES or (
                        getattr(func.value, "id", "") == "os" and func.attr.startswith(("exec", "spawn", "fork")))):
                    problems.append(f"{name}:{node.lineno}: .{func.attr}()")
            elif isinstance(node, ast.Attribute) and node.attr == "CERT_NONE":
                problems.append(f"{name}:{node.lineno}: ssl.CERT_NONE")
            elif (isinstance(node, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "check_hostname"
                                                       for t in node.targets)
                  and isinstance(node.value, ast.Constant) and node.value.value is False):
                problems.append(f"{name}:{node.lineno}: check_hostname = False")
    assert not problems, problems


@pytest.mark.parametrize("op", ["__init__", "__class__", "_dispatch", "op_create", "shutdown", "handle",
                                "grants.grant", "Create", "create "])
def test_operation_names_are_looked_up_in_the_table_not_on_objects(tmp_path: Path, op: str) -> None:
    host = start_host(tmp_path / "config")
    try:
        assert host.request(op, socketId=1)["error"]["code"] == "unknown_op"
        assert host.call("getInfo", socketId=1).last_error == "Socket not found"
    finally:
        host.close()
