"""The `resocket` command. Each group of subcommands lives in its own module with a `register(sub)`."""
from __future__ import annotations

import argparse
import sys

from resocket import __version__
from resocket.cli import convert_cli, grants_cli, install_cli, keys_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="resocket", description="chrome.socket for today's browsers")
    parser.add_argument("--version", action="version", version=f"resocket {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (grants_cli, install_cli, keys_cli, convert_cli):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
