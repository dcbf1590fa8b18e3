"""Build hook: ship the resocket extension inside the package, as resocket/data/extension/.

extension/ stays the one source (resocket/cli/packaged_extension.py, Rule 1): the copy exists only in build
output (wheels, and trees installed from them), never in the repository. `resocket extension-path` prints
it, and `resocket convert-app` copies the shim from it into every converted app. An editable install
copies nothing: both read the checkout's extension/ directly.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
EXTENSION = HERE / "extension"
sys.path.insert(0, str(HERE / "host"))

from resocket.cli.packaged_extension import shipped_files  # stdlib only (its Rule 4)


class BuildPyWithExtension(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        if not (EXTENSION / "manifest.json").is_file():
            raise SystemExit(f"setup.py: {EXTENSION}/manifest.json is missing: the package would ship no "
                             "extension (an sdist must be made with MANIFEST.in's `graft extension`)")
        target = Path(self.build_lib) / "resocket" / "data" / "extension"
        if target.exists():
            shutil.rmtree(target)  # a file removed from extension/ must not linger from an earlier build
        for rel in shipped_files(EXTENSION):
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(EXTENSION / rel, target / rel)


setup(cmdclass={"build_py": BuildPyWithExtension})
