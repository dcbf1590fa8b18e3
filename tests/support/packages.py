"""resocket built the ways users get it, once per test run: the sdist, the wheel built from it (as PEP 517
front ends and `pip install resocket-<v>.tar.gz` do: in a clean tree, so no stale build/ of the checkout
can slip in), a fresh venv with the wheel and nothing else, and installer/build.py's packages (bundle,
.deb, tarball).

The session fixtures in tests/conftest.py call these, so every module that needs a build shares one (a
PyInstaller build costs ~15 s+ on 2 cores). Builds run without network (the tests' namespace has none):
the wheel and sdist without build isolation, from the test venv's setuptools; the fresh venv gets its
dependencies from the wheelhouse `make deps` fills (pip download of pyproject's dependencies), with pip's
own configuration switched off, so pip resolves resocket's real dependency list as a user's pip would.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Filled by `make deps` (Makefile, WHEELHOUSE): resocket's runtime dependencies as wheels.
WHEELHOUSE = Path(sys.prefix) / "wheelhouse"


def run(cmd: list[str], *, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def build_wheel(dest: Path, source: Path = REPO) -> Path:
    """`pip wheel` of `source` (an unpacked sdist, or this checkout)."""
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dest),
         str(source)])
    (wheel,) = dest.glob("resocket-*.whl")
    return wheel


def build_sdist(dest: Path) -> Path:
    # The PEP 517 hook pip would call for an sdist, run by hand: pip itself has no "build an sdist" command.
    code = ("import sys; from setuptools import build_meta as b; import os; os.chdir(sys.argv[1]); "
            "print(b.build_sdist(sys.argv[2]))")
    name = run([sys.executable, "-c", code, str(REPO), str(dest)]).strip().splitlines()[-1]
    return dest / name


def unpack_sdist(sdist: Path, dest: Path) -> Path:
    """Extract the sdist into `dest`; returns its top folder (resocket-<version>/)."""
    with tarfile.open(sdist) as tf:
        tf.extractall(dest, filter="data")
    (top,) = dest.iterdir()
    return top


def clean_pip_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no pip configuration (this machine's find-links, indexes and
    constraints), no PYTHONPATH, no active venv."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


def user_venv(wheel: Path, dest: Path) -> Path:
    """A fresh venv with `pip install resocket-*.whl`: no extras, no test dependencies. Returns its bin/."""
    if not any(WHEELHOUSE.glob("cryptography-*.whl")):
        raise AssertionError(f"{WHEELHOUSE} holds no cryptography wheel: run `make deps` (it fills it)")
    run([sys.executable, "-m", "venv", str(dest)], env=clean_pip_env())
    run([str(dest / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(WHEELHOUSE),
         str(wheel)], env=clean_pip_env())
    return dest / "bin"


def build_packages(dest: Path) -> Path:
    """installer/build.py all --fast, as `make dist` does (least compression). Returns `dest`:
    dest/build/pyinstaller/dist/resocket is the bundle, dest/dist holds the .deb and the tarball."""
    run([sys.executable, str(REPO / "installer" / "build.py"), "all", "--fast", "--build", str(dest / "build"),
         "--dist", str(dest / "dist")])
    return dest
