"""Placeholder: replaced by the module's owner."""
from __future__ import annotations

import argparse


def register(sub: "argparse._SubParsersAction") -> None:
    pass
