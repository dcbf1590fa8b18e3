"""Drive Debian's headless Chromium over the DevTools protocol on `--remote-debugging-pipe`.

Standard library only. Chromium reads CDP JSON messages from fd 3 and writes to fd 4, each message
ending in a NUL byte (docs/chrome-behaviour.md 10); there is no port to race for and the browser exits when the pipe
closes. One reader thread routes replies to their callers by id and keeps events in a list.

Design rules:
- Every wait has a generous timeout that only exists to turn a hang into a failure with a message.
- JS runs through `Runtime.evaluate` in a flattened session attached to a target, which works the same in
  extension pages, service workers, Chrome App background pages and web pages, and is not subject to
  the pages' CSP (extension pages forbid eval, but DevTools evaluation is allowed).
"""
from __future__ import annotations

import fcntl
import itertools
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable

CHROMIUM = os.environ.get("RESOCKET_CHROMIUM", "/usr/lib/chromium/chromium")

# The launch flags of docs/chrome-behaviour.md 10. The background-networking ones keep Chromium from
# trying hosts that the private network namespace refuses anyway.
BASE_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--enable-unsafe-extension-debugging", "--remote-debugging-pipe",
]


def _high_fd(fd: int) -> int:
    new = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return new


class CDPError(Exception):
    """A CDP command failed, or JS evaluation threw."""


class Browser:
    """One Chromium process with a fresh user-data-dir, driven over the debugging pipe."""

    def __init__(self, user_data_dir: Path, *, extensions: list[Path] = (), env: dict[str, str] | None = None,
                 extra_flags: list[str] = (), headless: bool = True, prefix: list[str] = ()) -> None:
        """`prefix`: a command that execs its arguments (Chromium's command line), e.g. one that enters a
        network namespace of its own first."""
        self.user_data_dir = Path(user_data_dir)
        self.user_data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.user_data_dir / "chromium.log"
        flags = [f for f in BASE_FLAGS if headless or f != "--headless=new"]
        flags.append(f"--user-data-dir={self.user_data_dir}")
        if extensions:
            joined = ",".join(str(e) for e in extensions)
            flags += [f"--load-extension={joined}", f"--disable-extensions-except={joined}"]
        flags += list(extra_flags)
        full_env = dict(os.environ)
        full_env.update(env or {})
        # fd 3 = browser reads commands, fd 4 = browser writes replies. The renumbering is done by bash
        # (dash only knows single-digit fds) after exec, so it cannot collide with the fds subprocess uses internally.
        cmd_r, self._cmd_w = os.pipe()
        self._out_r, out_w = os.pipe()
        # Move the child's ends above 9 so the renumbering cannot close the fd it just made.
        cmd_r, out_w = (_high_fd(cmd_r), _high_fd(out_w))
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - lives as long as the browser; closed in close()
        self.proc = subprocess.Popen(
            ["/bin/bash", "-c", f'exec "$@" 3<&{cmd_r} 4>&{out_w} {cmd_r}<&- {out_w}>&-', "chromium",
             *prefix, CHROMIUM, *flags, "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=full_env,
            pass_fds=(cmd_r, out_w),
        )
        os.close(cmd_r)
        os.close(out_w)
        self._ids = itertools.count(1)
        self._pending: dict[int, queue.Queue] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.events: list[dict] = []
        self._events_cv = threading.Condition()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        self.send("Target.setDiscoverTargets", {"discover": True}, timeout=30)
        if extensions:
            self.wait_for_extensions(extensions)

    # -- wire ---------------------------------------------------------------------------------
    def _read_loop(self) -> None:
        buf = b""
        while True:
            try:
                part = os.read(self._out_r, 1 << 16)
            except OSError:
                part = b""
            if not part:
                break
            buf += part
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._lock:
                        q = self._pending.pop(msg["id"], None)
                    if q is not None:
                        q.put(msg)
                else:
                    with self._events_cv:
                        self.events.append(msg)
                        self._events_cv.notify_all()
        with self._lock:
            for q in self._pending.values():
                q.put(None)
            self._pending.clear()
        with self._events_cv:
            self._events_cv.notify_all()

    def send(self, method: str, params: dict | None = None, *, session_id: str | None = None,
             timeout: float = 30) -> dict:
        mid = next(self._ids)
        q: queue.Queue = queue.Queue()
        with self._lock:
            self._pending[mid] = q
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session_id:
            msg["sessionId"] = session_id
        with self._write_lock:
            os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        try:
            reply = q.get(timeout=timeout)
        except queue.Empty:
            raise CDPError(f"{method}: no reply within {timeout}s") from None
        if reply is None:
            raise CDPError(f"{method}: the browser closed the debugging pipe (see {self.log_path})")
        if "error" in reply:
            raise CDPError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    # -- targets ------------------------------------------------------------------------------
    def targets(self) -> list[dict]:
        return self.send("Target.getTargets")["targetInfos"]

    def wait_for_target(self, pred: Callable[[dict], bool], timeout: float = 30, what: str = "target") -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for t in self.targets():
                if pred(t):
                    return t
            if time.monotonic() > deadline:
                seen = [(t["type"], t["url"]) for t in self.targets()]
                raise CDPError(f"no {what} within {timeout}s; targets: {seen}")
            time.sleep(0.1)

    def wait_for_extensions(self, paths: list[Path], timeout: float = 30) -> None:
        """Wait until Chromium has loaded the unpacked extensions at `paths`.

        Chromium loads --load-extension ones after the browser is up; an extension page opened before that
        stays an error page. chrome://extensions lists what is loaded (chrome.developerPrivate), whatever the
        kind of extension: MV3 with or without a service worker, a Chrome App, a converted app.
        """
        wanted = sorted(str(Path(p).resolve()) for p in paths)
        target_id = self.send("Target.createTarget", {"url": "chrome://extensions/"})["targetId"]
        try:
            page = self.attach(target_id)
            page.wait_for(f"""location.href.startsWith('chrome://extensions') && chrome.developerPrivate
                .getExtensionsInfo().then((infos) => {{
                    const loaded = infos.map((e) => e.path);
                    return {json.dumps(wanted)}.every((p) => loaded.includes(p));
                }})""", timeout=timeout, what=f"Chromium to load the extensions {wanted}")
        finally:
            self.send("Target.closeTarget", {"targetId": target_id})

    def attach(self, target_id: str) -> Session:
        sid = self.send("Target.attachToTarget", {"targetId": target_id, "flatten": True})["sessionId"]
        return Session(self, sid, target_id)

    def new_page(self, url: str, *, ready: str = "document.readyState === 'complete'",
                 timeout: float = 30) -> Session:
        """Open a tab at `url` and wait until `ready` (a JS expression) is true on that page."""
        target_id = self.send("Target.createTarget", {"url": url})["targetId"]
        session = self.attach(target_id)
        # createTarget returns before navigation: poll on the real page before trusting evaluate.
        session.wait_for(f"location.href.startsWith({json.dumps(url.split('#')[0])}) && ({ready})",
                         timeout=timeout)
        return session

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                with self._write_lock:
                    os.close(self._cmd_w)
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        else:
            try:
                os.close(self._cmd_w)
            except OSError:
                pass
        self._reader.join(5)
        try:
            os.close(self._out_r)
        except OSError:
            pass
        self._log.close()

    def save_artifacts(self, dest: Path, sessions: list[Session] = ()) -> None:
        """Keep the Chromium log and a screenshot of each page session in `dest` (for failing tests)."""
        dest.mkdir(parents=True, exist_ok=True)
        if self.log_path.exists():
            shutil.copy(self.log_path, dest / "chromium.log")
        for i, s in enumerate(sessions):
            try:
                s.screenshot(dest / f"page{i}.png")
            except CDPError as exc:  # best effort: the page may be gone, or be a background page
                (dest / f"page{i}.error.txt").write_text(str(exc))


class Polling:
    """`wait_for` on top of the subclass's `evaluate(expression, timeout=)`, whose failures raise `error`
    (a CDP session here, a WebDriver BiDi page in bidi.py)."""

    error: type[Exception] = CDPError

    def evaluate(self, expression: str, *, timeout: float = 60) -> Any:
        raise NotImplementedError

    def wait_for(self, expression: str, timeout: float = 30, what: str | None = None) -> Any:
        """Poll until the JS `expression` (awaited if it is a promise) is truthy; return its value."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(
                    f"(async () => {{ try {{ return await ({expression}); }} catch (e) {{ return false; }} }})()",
                    timeout=10)
                if value:
                    return value
            except self.error as exc:  # the page may be navigating
                last = exc
            time.sleep(0.1)
        raise self.error(f"timed out waiting for {what or repr(expression)} (last error: {last})")


class Session(Polling):
    """A flattened CDP session attached to one target."""

    def __init__(self, browser: Browser, session_id: str, target_id: str) -> None:
        self.browser, self.session_id, self.target_id = browser, session_id, target_id

    def send(self, method: str, params: dict | None = None, timeout: float = 30) -> dict:
        return self.browser.send(method, params, session_id=self.session_id, timeout=timeout)

    def evaluate(self, expression: str, *, timeout: float = 60) -> Any:
        """Evaluate JS (awaiting a returned promise) and return its value as JSON."""
        res = self.send("Runtime.evaluate", {
            "expression": expression, "awaitPromise": True, "returnByValue": True,
            "timeout": int(timeout * 1000),
        }, timeout=timeout + 5)
        if "exceptionDetails" in res:
            det = res["exceptionDetails"]
            desc = det.get("exception", {}).get("description") or det.get("text")
            raise CDPError(f"JS threw: {desc}")
        return res["result"].get("value")


    def screenshot(self, path: Path) -> None:
        import base64
        # Short: a background page or app window never answers, and each wait adds to a failing test's time.
        data = self.send("Page.captureScreenshot", {"format": "png"}, timeout=5)["data"]
        Path(path).write_bytes(base64.b64decode(data))
