"""The folders of host/resocket are its layers, and the imports go one way (docs/architecture.md).

Read from the source with ast, every import counted, those inside functions too:
- `wire/` and `chrome/` are pure: no event loop, threads, sockets, TLS, processes, files or OS calls;
- the layers import downwards only: cli -> client -> engine -> chrome / wire, and `grants` (files) between
  client/cli and chrome; nothing outside `cli/` (and the package's own `__main__`) imports `cli/`;
- no module imports itself back through others (no cycle, lazy imports included);
- an import inside a function is there for a reason listed below (start-up time, an optional or
  platform-only dependency), never to dodge a cycle;
- the sockets use the engine only through its written interface (engine/services.py SocketServices), and
  the client is the whole of the engine's output (ClientOutput).
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import resocket

PACKAGE = Path(resocket.__file__).resolve().parent

#: Which layers each layer may import ("" is the package's own __init__: names and constants only).
#: `grants` is one module at the top: the CLI writes grants, the client reads them.
MAY_IMPORT = {
    "": set(),
    # wire speaks Chrome's rules back (a refusal names the rule that would allow the call): both are pure.
    "wire": {"", "wire", "chrome"},
    "chrome": {"", "chrome"},
    "engine": {"", "wire", "chrome", "engine"},
    "grants": {"", "chrome"},
    "fleet": {"", "chrome", "grants"},
    "client": {"", "wire", "chrome", "engine", "grants", "fleet", "client"},
    "cli": {"", "wire", "chrome", "grants", "fleet", "cli"},
    "__main__": {"", "cli"},
}
PURE_LAYERS = {"wire", "chrome"}
#: Modules a pure layer may not import: the event loop, threads, sockets and TLS, processes, files and OS calls.
IMPURE_MODULES = {"asyncio", "threading", "_thread", "socket", "ssl", "selectors", "select", "subprocess",
                  "multiprocessing", "concurrent", "os", "io", "pathlib", "shutil", "tempfile", "fcntl", "msvcrt",
                  "ctypes", "signal", "mmap", "glob", "winreg", "logging"}
#: `sys` in a pure module: only to ask which Python runs it (never its streams).
PURE_SYS_ATTRIBUTES = {"version_info"}

#: (module, imported module) -> why it is imported inside a function rather than at the top.
LAZY_IMPORTS = {
    # Start-up: Chrome starts a host per connectNative; its first reply waits for these (docs/performance.md).
    ("client.serve", "resocket.engine.loop"): "start-up: asyncio and the engine load after the hello reply",
    ("client.serve", "resocket.engine.datachannel"): "start-up: only a client that opens a data channel",
    ("client.serve", "resocket.grants"): "start-up: the grants are read when hello arrives",
    ("client.serve", "resocket.chrome.permissions"): "start-up: the rules are parsed when hello arrives",
    ("client.serve", "json"): "start-up: only the DEBUG wire trace uses it",
    ("client.serve", "argparse"): "start-up: only arguments beyond Chrome's need parsing",
    ("client.serve", "stat"): "start-up: only when stdin cannot be polled",
    ("client.serve", "resocket.fleet"): "start-up: the administrator's relay IDs, with the grants module",
    ("engine.loop", "resocket.engine.netlist"): "start-up: ctypes, only once getNetworkList is called",
    ("engine.resolver", "resocket.engine.netlist"): "start-up: ctypes, only when a lookup fails",
    ("engine.tls", "ctypes"): "platform: macOS only, the keychain's roots at the first secure()",
    # Optional dependencies (the `fast` and `crypto` extras): absent is a supported configuration.
    ("engine.datachannel", "numpy"): "optional: the `fast` extra unmasks with NumPy",
    ("wire.protocol", "pybase64"): "optional: the `fast` extra's SIMD base64",
    # cryptography (a dependency) loads only in the commands that sign or make keys: never in resocket-host.
    ("cli.crx", "cryptography.hazmat.primitives"): "cli: cryptography, key commands only",
    ("cli.crx", "cryptography.hazmat.primitives.asymmetric"): "cli: cryptography, key commands only",
    ("cli.iwa", "cryptography.hazmat.primitives"): "cli: cryptography, only an IWA's Ed25519 key",
    ("cli.iwa", "cryptography.hazmat.primitives.asymmetric.ed25519"): "cli: cryptography, only an IWA's key",
    ("cli.webbundle", "cryptography.exceptions"): "cli: cryptography, only to sign or verify a bundle",
    ("cli.webbundle", "cryptography.hazmat.primitives"): "cli: cryptography, only to sign or verify a bundle",
    ("cli.webbundle", "cryptography.hazmat.primitives.asymmetric.ed25519"): "cli: cryptography, only to sign "
                                                                              "or verify a bundle",
    # Platform-only modules.
    ("client.serve", "fcntl"): "platform: POSIX only (pipe sizes)",
    ("client.serve", "msvcrt"): "platform: Windows only (binary stdio)",
    ("cli.install", "winreg"): "platform: Windows registry",
    # The CLI loads a subcommand's modules when that subcommand runs (`resocket --help` stays quick, and the
    # commands that need no key never import cryptography: tests/test_crx.py).
    ("cli.convert_cli", "resocket.cli.crx"): "cli: only convert-app with a key",
    ("cli.convert_cli", "resocket.grants"): "cli: only convert-app that grants",
    ("cli.convert_cli", "resocket.cli.browsers"): "cli: only convert-app that installs",
    ("cli.convert_cli", "resocket.cli.install"): "cli: only convert-app that installs",
    ("cli.grants_cli", "resocket.chrome.permissions"): "cli: only grant --from-manifest",
    ("cli.grants_cli", "resocket.cli.install"): "cli: only grants that check the host's registration",
    ("cli.grants_cli", "resocket.cli.browsers"): "cli: only grants that check the host's registration",
    ("cli.install", "resocket.grants"): "cli: only uninstall with --purge / the config dir hint",
    ("cli.convert", "resocket.chrome.permissions"): "cli: only when a report lists socket rules",
    ("cli.convert_cli", "resocket.cli.iwa_cli"): "cli: only convert-app --target iwa",
    ("cli.appkeys", "resocket.cli.crx"): "cli: only when a key is made or read",
    ("cli.appkeys", "resocket.grants"): "cli: only for the config dir",
    ("cli.install", "resocket.fleet"): "cli: only installs that list the administrator's IDs",
    ("cli.iwa", "resocket.chrome.permissions"): "cli: only when an IWA's report lists socket rules",
    ("cli.keys_cli", "resocket.cli.policy"): "cli: only pack",
    ("cli.policy", "resocket.grants"): "cli: only pack --page-origin",
    ("cli.convert", "posixpath"): "cli: only for paths inside a CRX",
    ("cli.convert", "urllib.parse"): "cli: only for paths inside a CRX",
    ("cli.convert", "shutil"): "cli: only when writing the output folder",
    ("grants", "tempfile"): "cli: only when writing grants",
}


def module_name(path: Path) -> str:
    """host/resocket/engine/tcp.py -> "engine.tcp"; a package's __init__.py -> its folder's name ("" at the top)."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> str:
    return module.split(".")[0]


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), filename=str(p)) for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = modules()


def imports(tree: ast.Module) -> Iterator[tuple[ast.AST, str, bool]]:
    """(node, absolute module imported, inside a function?) for every import in `tree`; `from resocket.engine
    import tcp` counts as importing resocket.engine.tcp, `from resocket import EXTENSION_ORIGIN` as resocket."""
    def walk(node: ast.AST, nested: bool) -> Iterator[tuple[ast.AST, str, bool]]:
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield child, alias.name, nested
            elif isinstance(child, ast.ImportFrom):
                assert child.level == 0, f"relative import at line {child.lineno}: the tree uses absolute ones"
                base = child.module or ""
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    yield child, sub if sub.removeprefix("resocket.") in MODULES else base, nested
            else:
                yield from walk(child, inner)
    yield from walk(tree, False)


def is_type_checking_block(tree: ast.Module) -> set[ast.AST]:
    """Imports under `if TYPE_CHECKING:` never run: annotations only."""
    found: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            found.update(n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return found


def package_imports(module: str) -> set[str]:
    """The package's modules `module` imports at run time (names below resocket; "" is its __init__)."""
    tree = MODULES[module]
    typing_only = is_type_checking_block(tree)
    out = set()
    for node, name, _ in imports(tree):
        if node in typing_only:
            continue
        if name == "resocket":
            out.add("")
        elif name.startswith("resocket."):
            out.add(name.removeprefix("resocket."))
    return out


def test_the_tree_has_the_layers_the_docs_name() -> None:
    assert {"wire", "chrome", "engine", "client", "cli", "grants"} <= {layer(m) for m in MODULES} <= set(MAY_IMPORT)


def test_each_layer_imports_only_the_layers_below_it() -> None:
    wrong = [f"{m} imports {target}" for m in MODULES for target in package_imports(m)
             if layer(target) not in MAY_IMPORT[layer(m)]]
    assert not wrong


def test_nothing_outside_the_cli_imports_the_cli() -> None:
    wrong = [f"{m} imports {t}" for m in MODULES for t in package_imports(m)
             if layer(t) == "cli" and layer(m) not in {"cli", "__main__"}]
    assert not wrong


def test_the_pure_layers_do_no_io() -> None:
    wrong = []
    for module, tree in MODULES.items():
        if layer(module) not in PURE_LAYERS:
            continue
        for node, name, _ in imports(tree):
            if name.split(".")[0] in IMPURE_MODULES:
                wrong.append(f"{module}:{node.lineno} imports {name}")
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "sys"
                    and node.attr not in PURE_SYS_ATTRIBUTES):
                wrong.append(f"{module}:{node.lineno} uses sys.{node.attr}")
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in {"open", "print", "input"}:
                wrong.append(f"{module}:{node.lineno} calls {node.func.id}()")
    assert not wrong


def test_no_module_imports_itself_back() -> None:
    graph = {m: package_imports(m) - {m} for m in MODULES}
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for nxt in sorted(graph.get(m, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles


def test_every_import_inside_a_function_has_a_listed_reason() -> None:
    found = set()
    for module, tree in MODULES.items():
        typing_only = is_type_checking_block(tree)
        for node, name, nested in imports(tree):
            if nested and node not in typing_only:
                found.add((module, name))
    unexplained = sorted(found - set(LAZY_IMPORTS))
    assert not unexplained, "import at the top, or list it in LAZY_IMPORTS with its reason"
    stale = sorted(set(LAZY_IMPORTS) - found)
    assert not stale, "no longer imported inside a function: remove from LAZY_IMPORTS"


def protocol_members(module: str, name: str) -> set[str]:
    """The methods and annotated attributes of class `name` (a typing.Protocol) in `module`."""
    [cls] = [n for n in MODULES[module].body if isinstance(n, ast.ClassDef) and n.name == name]
    return {n.name for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))} | {
        n.target.id for n in cls.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}


def test_the_sockets_use_the_engine_only_through_socket_services() -> None:
    """What a socket may use of the engine is written down (engine/services.py): tcp, udp and sockets_api
    touch nothing else of it (`self.engine.<x>`, `engine.<x>`), and the engine has all of it."""
    allowed = protocol_members("engine.services", "SocketServices")
    used: dict[str, set[str]] = {}
    for module in ("engine.tcp", "engine.udp", "engine.sockets_api", "engine.services"):
        for node in ast.walk(MODULES[module]):
            if not isinstance(node, ast.Attribute):
                continue
            base = node.value
            if ((isinstance(base, ast.Attribute) and base.attr == "engine")
                    or (isinstance(base, ast.Name) and base.id == "engine")):
                used.setdefault(node.attr, set()).add(module)
    assert {attr: sorted(where) for attr, where in used.items() if attr not in allowed} == {}
    [engine] = [n for n in MODULES["engine.loop"].body if isinstance(n, ast.ClassDef) and n.name == "Engine"]
    defined = {n.name for n in engine.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assigned = {t.attr for n in ast.walk(engine) if isinstance(n, (ast.Assign, ast.AnnAssign))
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
                if isinstance(t, ast.Attribute) and getattr(t.value, "id", None) == "self"}
    assert allowed - defined - assigned == set()


def test_the_client_is_the_engines_whole_output() -> None:
    """client/serve.py's Client implements every method of ClientOutput (engine/services.py)."""
    needed = protocol_members("engine.services", "ClientOutput")
    [client] = [n for n in MODULES["client.serve"].body if isinstance(n, ast.ClassDef) and n.name == "Client"]
    assert needed - {n.name for n in client.body if isinstance(n, ast.FunctionDef)} == set()
