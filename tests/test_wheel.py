"""The wheel carries what an installed resocket needs at run time, beyond the Python modules."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_ships_the_shim_and_the_app_runtime(tmp_path: Path) -> None:
    # --no-build-isolation: the tests run without network; the venv already has setuptools.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path), str(REPO)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("resocket-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "resocket/data/extension/chrome-socket.js" in names
    assert "resocket/data/app-runtime/app-runtime.js" in names
    # convert-app --target iwa: the Direct Sockets backend and the IWA runtime (docs/chromeos.md)
    assert {"resocket/data/iwa/direct-sockets.js", "resocket/data/iwa/iwa-runtime.js"} <= names
    shipped = zipfile.ZipFile(wheel).read("resocket/data/extension/chrome-socket.js")
    assert shipped == (REPO / "extension" / "chrome-socket.js").read_bytes()
