"""Suite-wide rules.

`make test` installs everything the suite needs (Debian's chromium, PyInstaller, websockify...), so there
a skipped test means something is missing, not optional: with RESOCKET_NO_SKIP=1 (set by `make test`,
hence by CI) a skip is reported as a failure. Strict xfails are unaffected.
"""
from __future__ import annotations

import os

import pytest

NO_SKIP = os.environ.get("RESOCKET_NO_SKIP") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    outcome = yield
    report = outcome.get_result()
    if NO_SKIP and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under RESOCKET_NO_SKIP=1 (make test installs everything): {reason}"


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory):  # -> tests.support.certs.Pki
    """The test CA and its leaves (tests/support/certs.py), made once per run."""
    from tests.support.certs import make_pki

    return make_pki(tmp_path_factory.mktemp("pki"))


# -- resocket as users install it (tests/support/packages.py): one build of each per run, shared ----------
@pytest.fixture(scope="session")
def sdist(tmp_path_factory: pytest.TempPathFactory):  # -> pathlib.Path
    """The source distribution (resocket-<version>.tar.gz)."""
    from tests.support.packages import build_sdist

    return build_sdist(tmp_path_factory.mktemp("sdist"))


@pytest.fixture(scope="session")
def wheel(sdist, tmp_path_factory: pytest.TempPathFactory):  # -> pathlib.Path
    """The wheel built from that sdist alone, as a PEP 517 front end or `pip install <sdist>` builds it."""
    from tests.support.packages import build_wheel, unpack_sdist

    base = tmp_path_factory.mktemp("wheel")
    return build_wheel(base / "dist", source=unpack_sdist(sdist, base / "src"))


@pytest.fixture(scope="session")
def user_venv(wheel, tmp_path_factory: pytest.TempPathFactory):  # -> pathlib.Path (the venv's bin/)
    """A fresh venv holding that wheel and its dependencies only (no extras, no test tools)."""
    from tests.support.packages import user_venv

    return user_venv(wheel, tmp_path_factory.mktemp("user-venv") / "venv")


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory):  # -> pathlib.Path
    """installer/build.py all --fast: build/pyinstaller/dist/resocket (the bundle), dist/ (.deb, tarball)."""
    pytest.importorskip("PyInstaller", reason="PyInstaller builds the packages: pip install -e '.[dist]'")
    from tests.support.packages import build_packages

    return build_packages(tmp_path_factory.mktemp("packages"))
