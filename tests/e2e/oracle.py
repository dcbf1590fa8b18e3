"""The Chrome oracle: Chrome's own chrome.socket, reached through a legacy Chrome App.

Debian's Chromium still runs manifest-v2 Chrome Apps loaded with --load-extension and gives them the real
chrome.socket (docs/chrome-behaviour.md 9). We generate such an app into a temp dir, attach to its generated
background page over CDP and run scenarios there. Scenarios (scenarios/*.js) are plain JS expressions
`async (env) => transcript`; the same text later runs in a resocket page, and the two transcripts are
compared value by value (test_differential.py).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .cdp import Browser, Session

SCENARIOS = Path(__file__).parent / "scenarios"

# Public half of a throwaway RSA-2048 key (the private half was never stored): it fixes the app's ID.
# ID = first 32 hex digits of SHA-256(DER SubjectPublicKeyInfo), 0-f mapped to a-p (docs/chrome-behaviour.md 10).
CHROME_APP_KEY = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAo1jcIBOYG3Yd+91OKGy/a6l6cJnOgnoOWODF8T/tFojFpTXjfw5oYnHo"
    "M12GNPM2SnHDKlyYUmQ8V9ocFuHtcP4GFPkAZ5o6pEcF8laymS14CYBrVk6lCqJ5VZ1L6cjb72fu6IJbvBULdtkfZhMsTy0elSXs"
    "gtYkwPC7qs0vXqMQJezCXWyYWpr7LInzYpSV+Y1wDc0dOJ942URyIZmjzSzrpXFaBdFEEVgntUyWMfnD8HmaamfPzpk6egAuDYei"
    "RmTH4mKEoqT1DZY3UyT3U2Op09juAYhyD3mA3VK7Yvj1LuR3NGO7J+GfBl2051yogHNde2HausULCoqv7OzaNQIDAQAB"
)
CHROME_APP_ID = "ndomjmgpbkhdaaaelajgifdoabioepoo"

# The rule list of Chromium's own socket API test app (docs/chrome-behaviour.md 4.1).
ALL_SOCKET_RULES = ["tcp-connect", "tcp-listen", "udp-send-to", "udp-bind", "udp-multicast-membership"]

# Payloads of docs/chrome-behaviour.md section 7.
TCP_REQUEST = "POST /echo HTTP/1.1\r\nContent-Length: 19\r\n\r\n0100000005320000005"
UDP_REQUEST = "0100000005320000005"


def write_chrome_app(directory: Path, rules: list[str] | None = None, sockets: dict | None = None) -> Path:
    """Write a legacy Chrome App whose generated background page has chrome.socket with `rules` (and
    chrome.sockets.* when `sockets`, the manifest's "sockets" key, is given)."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "manifest_version": 2,
        "name": "resocket oracle",
        "version": "1",
        "key": CHROME_APP_KEY,
        "app": {"background": {"scripts": ["launch.js"]}},
        "permissions": [{"socket": ALL_SOCKET_RULES if rules is None else rules}] if rules != [] else [],
    }
    if sockets is not None:
        manifest["sockets"] = sockets
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2))
    # Only an empty onLaunched listener: the background page loads at start-up and stays (oracle doc).
    (directory / "launch.js").write_text("chrome.app.runtime.onLaunched.addListener(() => {});\n")
    return directory


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIOS.glob("*.js") if p.stem != "lib")


def scenario_expression(name: str, env: dict) -> str:
    """The JS expression that runs scenario `name` with `env` and evaluates to its transcript."""
    lib = (SCENARIOS / "lib.js").read_text()
    body = (SCENARIOS / f"{name}.js").read_text().strip().rstrip(";")
    return f"(async () => {{\n{lib}\nreturn await ({body})({json.dumps(env)});\n}})()"


def run_scenario(session: Session, name: str, env: dict, timeout: float = 60) -> list:
    return session.evaluate(scenario_expression(name, env), timeout=timeout)


def attach_background_page(browser: Browser, app_id: str = CHROME_APP_ID, timeout: float = 30) -> Session:
    """Attach to the app's _generated_background_page.html (type background_page, ~1 s after launch)."""
    url = f"chrome-extension://{app_id}/_generated_background_page.html"
    target = browser.wait_for_target(lambda t: t["url"] == url, timeout=timeout, what=url)
    session = browser.attach(target["targetId"])
    session.wait_for("document.readyState === 'complete'")
    return session


def make_env(protocol: str, *, tcp_port: int, udp_port: int, listen_port: int, mcast_port: int,
             closed: int) -> dict:
    return {
        "protocol": protocol,
        "tcpRequest": TCP_REQUEST,
        "udpRequest": UDP_REQUEST,
        "ports": {"tcpPort": tcp_port, "udpPort": udp_port, "listenPort": listen_port,
                  "mcastPort": mcast_port, "closedPort": closed},
    }


# Which scenarios run in which protocol modes (section 7.1 runs for both).
SCENARIO_RUNS: list[tuple[str, str]] = [
    ("creation", "tcp"), ("creation", "udp"),
    ("sending", "tcp"), ("sending", "udp"),
    ("pending_callback", "tcp"), ("pending_callback", "udp"),
    ("tcp_on_udp_methods", "udp"),
    ("tcp_server", "tcp"),
    ("multicast", "udp"),
    ("errors_tcp", "tcp"), ("errors_udp", "udp"),
    ("getinfo_shapes", "tcp"),
    ("udp_localhost", "udp"),
]
