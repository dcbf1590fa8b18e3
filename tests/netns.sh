#!/bin/sh
# Run a command in a private network namespace where only loopback exists.
#
#   tests/netns.sh .venv/bin/pytest -q tests/
#
# Why: resocket's tests open real sockets; inside the namespace they can only ever reach 127.0.0.0/8
# and ::1, and Chromium's background traffic goes nowhere. The multicast route lets the 224.0.0.0/4
# tests (docs/chrome-behaviour.md 7.4) send group traffic over lo. `unshare -r` maps the caller to
# root inside a new user namespace, so this needs no privileges on hosts that allow user namespaces.
set -eu
if [ "$#" -eq 0 ]; then
    echo "usage: $0 COMMAND [ARG...]" >&2
    exit 2
fi
exec unshare -rn sh -c 'ip link set lo up && ip route add 224.0.0.0/4 dev lo src 127.0.0.1 && exec "$@"' netns "$@"
