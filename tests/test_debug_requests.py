"""debug/: the framed sample requests go through a real resocket-host exactly as debug/README.md says.

`cat debug/X.bin | resocket-host <the resocket extension's origin> | python3 debug/read_replies.py` is run as that shell
pipeline, with the installed `resocket-host`, the resocket extension's own origin and no grants, and every reply line is checked; the committed .bin
files are what `debug/make_requests.py` writes. A protocol change that leaves these behind fails here, not in
the hands of someone debugging by hand.
"""
from __future__ import annotations

import json
import os
import runpy
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEBUG = REPO / "debug"
HOST = Path(sys.executable).parent / "resocket-host"
ORIGIN = "chrome-extension://flgdmcpaemonpacjpigcafobmllikoco/"  # resocket.EXTENSION_ORIGIN, as README writes it
README = (DEBUG / "README.md").read_text()

#: The replies each sample gets from a host with no grants: hello, then what README promises of the rest.
EXPECTED = {
    "hello.bin": [],
    "hello-ping.bin": [{"id": 2, "result": {}}],
    "hello-create.bin": [{"id": 2, "args": [{"socketId": 1}]},
                         {"id": 3, "args": [{"connected": False, "socketType": "tcp"}]}],
}


def pipeline(sample: str, tmp_path: Path, log: str | None = None) -> subprocess.CompletedProcess:
    """The README's command line, with this environment's resocket-host and python."""
    command = (f"cat {shlex.quote(str(DEBUG / sample))} | {shlex.quote(str(HOST))} {ORIGIN} | "
               f"{shlex.quote(sys.executable)} {shlex.quote(str(DEBUG / 'read_replies.py'))}")
    env = {**os.environ, "RESOCKET_CONFIG_DIR": str(tmp_path / "config")}
    env.pop("RESOCKET_LOG", None)
    if log:
        env["RESOCKET_LOG"] = log
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=60, check=False)


def test_the_readme_names_every_sample_and_its_commands() -> None:
    assert sorted(p.name for p in DEBUG.glob("*.bin")) == sorted(EXPECTED)
    assert f"cat debug/hello.bin | resocket-host {ORIGIN} | python3 debug/read_replies.py" in README
    for sample in EXPECTED:
        assert f"`{sample}`" in README or f"debug/{sample}" in README, sample


def test_the_committed_samples_are_what_make_requests_writes() -> None:
    made = runpy.run_path(str(DEBUG / "make_requests.py"))  # not as __main__: it writes nothing
    for sample, msgs in made["REQUESTS"].items():
        assert (DEBUG / sample).read_bytes() == b"".join(made["frame"](m) for m in msgs), sample


@pytest.mark.parametrize("sample", sorted(EXPECTED))
def test_each_sample_piped_through_the_host_prints_its_replies(sample: str, tmp_path: Path) -> None:
    done = pipeline(sample, tmp_path)
    assert done.returncode == 0, done.stderr
    replies = [json.loads(line) for line in done.stdout.splitlines()]
    hello, rest = replies[0], replies[1:]
    assert hello["id"] == 1 and hello["result"]["protocol"] == 1 and hello["result"]["host"] == "resocket-host"
    assert rest == EXPECTED[sample]


def test_resocket_log_debug_shows_the_work_on_stderr_and_leaves_the_replies_alone(tmp_path: Path) -> None:
    quiet, traced = pipeline("hello-create.bin", tmp_path), pipeline("hello-create.bin", tmp_path, log="debug")
    assert traced.returncode == 0, traced.stderr
    # Each request and reply as it crosses the wire (the resocket.wire logger), and none of it without the variable.
    for line in ('-> #2 create {"type": "tcp"}', '-> #3 getInfo {"socketId": 1}', '<- {"id": 2, "args": [{"socketId": 1}]}'):
        assert line in traced.stderr and line not in quiet.stderr, line
    assert traced.stdout == quiet.stdout
