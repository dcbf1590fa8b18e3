"""Build hook: ship the extension's chrome.socket shim inside the package.

extension/chrome-socket.js stays the one source of truth; `resocket convert-app` copies it into every
converted app and looks for it at resocket/data/extension/chrome-socket.js when resocket is installed
from a wheel (an editable install reads the checkout's extension/ directly).
"""
from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIM = HERE / "extension" / "chrome-socket.js"


class BuildPyWithShim(build_py):
    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            target = Path(self.build_lib) / "resocket" / "data" / "extension"
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(SHIM, target / SHIM.name)


setup(cmdclass={"build_py": BuildPyWithShim})
