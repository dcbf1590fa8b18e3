"""The wheel and the sdist carry what an installed resocket needs beyond its modules, and a plain
`pip install` of the wheel (a fresh venv, no extras, no test tools, dependencies resolved by pip from
pyproject's list) gives a resocket whose commands work: `extension-path`, `python -m resocket`, keys; its
host never loads cryptography although it is installed.

The wheel is built from the sdist alone, as PEP 517 front ends build it. The builds are shared with the
browser journey (tests/e2e/test_user_install.py) through the session fixtures `sdist`, `wheel` and
`user_venv` (tests/conftest.py, tests/support/packages.py).
"""
from __future__ import annotations

import base64
import json
import struct
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

from resocket import EXTENSION_ID, __version__
from resocket.cli import crx, packaged_extension

from tests.support.packages import REPO, clean_pip_env
from tests.support.servers import TcpServer

SHIPPED = packaged_extension.shipped_files(REPO / "extension")


def test_shipped_files_leave_out_keys_dotfiles_and_caches(tmp_path: Path) -> None:
    for rel in ("manifest.json", "js/a.js", "my-extension.PEM", ".git/config", "__pycache__/x.pyc", ".env"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    assert packaged_extension.shipped_files(tmp_path) == [Path("js/a.js"), Path("manifest.json")]


def test_wheel_ships_the_whole_extension_the_app_runtime_and_the_license(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert {f"resocket/data/extension/{rel.as_posix()}" for rel in SHIPPED} <= names
        assert "resocket/data/extension/manifest.json" in names and "resocket/data/extension/chrome-socket.js" in names
        for rel in SHIPPED:
            assert zf.read(f"resocket/data/extension/{rel.as_posix()}") == (REPO / "extension" / rel).read_bytes()
        assert "resocket/data/app-runtime/app-runtime.js" in names
        # convert-app --target iwa: the Direct Sockets backend and the IWA runtime (docs/chromeos.md)
        assert {"resocket/data/iwa/direct-sockets.js", "resocket/data/iwa/iwa-runtime.js"} <= names
        assert zf.read(f"resocket-{__version__}.dist-info/licenses/LICENSE") == (REPO / "LICENSE").read_bytes()
        metadata = Parser().parsestr(zf.read(f"resocket-{__version__}.dist-info/METADATA").decode())
    assert not [n for n in names if n.endswith(".pem") or "/." in n]
    assert (metadata["Name"], metadata["Version"], metadata["License-Expression"]) == ("resocket", __version__, "MIT")
    assert metadata["Author"] == "resocket developers"
    # A plain `pip install` gets everything the README's commands use: cryptography without any extra.
    assert "cryptography>=41" in metadata.get_all("Requires-Dist")


def test_sdist_carries_the_extension_license_and_changelog(sdist: Path) -> None:
    # The `wheel` fixture is built from this sdist alone: what the wheel tests find came through it.
    top = f"resocket-{__version__}"
    with tarfile.open(sdist) as tf:
        names = set(tf.getnames())
    for rel in ("LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "setup.py", "MANIFEST.in",
                "host/resocket/__init__.py", "host/resocket/data/app-runtime/app-runtime.js",
                *(f"extension/{rel.as_posix()}" for rel in SHIPPED)):
        assert f"{top}/{rel}" in names, rel
    assert not [n for n in names if n.endswith(".pem")]


def extension_path_of_this_checkout(pre: str = "") -> subprocess.CompletedProcess:
    code = f"{pre}\nimport sys\nfrom resocket.cli import main\nsys.exit(main(['extension-path']))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)


def test_checkout_install_prints_the_checkouts_extension() -> None:
    # The test venv has resocket installed editable (make deps): no copy, the source folder itself.
    r = extension_path_of_this_checkout()
    assert (r.returncode, r.stdout) == (0, f"{REPO / 'extension'}\n"), r.stderr


def test_extension_path_without_an_extension_says_where_it_looked() -> None:
    r = extension_path_of_this_checkout("from pathlib import Path\nfrom resocket.cli import packaged_extension as p\n"
                                        "p.PACKAGED = Path('/nonexistent/packaged')\n"
                                        "p.CHECKOUT = Path('/nonexistent/checkout')")
    assert r.returncode == 1 and r.stdout == ""
    assert "/nonexistent/packaged" in r.stderr and "/nonexistent/checkout" in r.stderr
    assert "reinstall resocket" in r.stderr


# -- the wheel installed by pip into a fresh venv -------------------------------------------------------
def user(venv_bin: Path, *args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = clean_pip_env(HOME=str(tmp_path / "home"), RESOCKET_CONFIG_DIR=str(tmp_path / "config"),
                        PATH="/usr/bin:/bin")
    return subprocess.run([str(venv_bin / args[0]), *args[1:]], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_installed_extension_path_is_a_loadable_copy_inside_the_install(user_venv: Path, tmp_path: Path) -> None:
    r = user(user_venv, "resocket", "extension-path", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    folder = Path(r.stdout.strip())
    venv = user_venv.parent.resolve()
    assert folder.is_absolute() and folder.is_dir() and venv in folder.parents, folder
    assert sorted(packaged_extension.shipped_files(folder)) == SHIPPED
    manifest = json.loads((folder / "manifest.json").read_text())
    assert crx.extension_id(crx.spki_from_b64(manifest["key"])) == EXTENSION_ID
    assert "Load unpacked" in r.stderr


def test_installed_package_runs_as_python_m_resocket(user_venv: Path, tmp_path: Path) -> None:
    r = user(user_venv, "python", "-m", "resocket", "--version", tmp_path=tmp_path)
    assert (r.returncode, r.stdout.strip()) == (0, f"resocket {__version__}"), r.stderr


def test_installed_keygen_works_without_any_extra(user_venv: Path, tmp_path: Path) -> None:
    r = user(user_venv, "resocket", "keygen", str(tmp_path / "k.pem"), tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("extension ID: ")


def _exchange(proc: subprocess.Popen, request: dict) -> dict:
    assert proc.stdin is not None and proc.stdout is not None
    body = json.dumps(request).encode()
    proc.stdin.write(struct.pack("=I", len(body)) + body)
    proc.stdin.flush()
    while True:
        header = proc.stdout.read(4)
        assert len(header) == 4, "the host closed stdout"
        reply = json.loads(proc.stdout.read(struct.unpack("=I", header)[0]))
        if reply.get("id") == request["id"]:
            return reply


def test_installed_host_echoes_without_loading_cryptography(user_venv: Path, tmp_path: Path) -> None:
    # cryptography is installed in this venv (a dependency), yet resocket-host must never import it
    # (crx.py Rule 1): its start-up is what every connectNative pays. -X importtime names every module loaded.
    assert user(user_venv, "python", "-c", "import cryptography", tmp_path=tmp_path).returncode == 0
    origin = f"chrome-extension://{EXTENSION_ID}/"
    with TcpServer() as server:
        granted = user(user_venv, "resocket", "grant", origin, f"tcp-connect:127.0.0.1:{server.port}",
                       tmp_path=tmp_path)
        assert granted.returncode == 0, granted.stderr
        env = clean_pip_env(HOME=str(tmp_path / "home"), RESOCKET_CONFIG_DIR=str(tmp_path / "config"),
                            PYTHONPROFILEIMPORTTIME="1")
        proc = subprocess.Popen([str(user_venv / "resocket-host"), origin], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            assert "result" in _exchange(proc, {"id": 1, "op": "hello",
                                                "args": {"protocol": 1, "client": "tests/1"}})
            sid = _exchange(proc, {"id": 2, "op": "create", "args": {"type": "tcp", "options": {}}})["args"][0]["socketId"]
            assert _exchange(proc, {"id": 3, "op": "connect", "args": {"socketId": sid, "hostname": "127.0.0.1",
                                                                      "port": server.port}})["args"] == [0]
            data = base64.b64encode(b"no cryptography here").decode()
            _exchange(proc, {"id": 4, "op": "write", "args": {"socketId": sid, "data": data}})
            read = _exchange(proc, {"id": 5, "op": "read", "args": {"socketId": sid, "bufferSize": 4096}})
            assert base64.b64decode(read["args"][0]["data"]) == b"no cryptography here"
        finally:
            _, stderr = proc.communicate(timeout=60)
    imported = [line.rsplit("|", 1)[-1].strip() for line in stderr.decode().splitlines()
                if line.startswith("import time:")]
    assert "resocket.client.serve" in imported and "resocket.engine.loop" in imported, stderr.decode()[-2000:]
    assert not [m for m in imported if m.split(".")[0] in ("cryptography", "_cffi_backend")], imported
    assert proc.returncode == 0

