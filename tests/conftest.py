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
