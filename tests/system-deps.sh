#!/bin/sh
# Install the Debian packages the test suite and the demo need, only when something is missing.
# Runs outside the network namespace (it needs the package mirrors). Idempotent and quiet when all is there.
set -eu
missing=""
[ -x /usr/lib/chromium/chromium ] || missing="$missing chromium"
[ -x /usr/bin/firefox-esr ] || missing="$missing firefox-esr"  # tests/e2e/test_firefox.py
command -v certutil >/dev/null 2>&1 || missing="$missing libnss3-tools"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v ip >/dev/null 2>&1 || missing="$missing iproute2"
command -v unshare >/dev/null 2>&1 || missing="$missing util-linux"
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$missing python3-venv"
[ -z "$missing" ] && exit 0

echo "system-deps: installing$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    echo "system-deps: missing Debian packages:$missing" >&2
    echo "system-deps: run as root: apt-get update && apt-get install -y$missing" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: no apt-get here; install these packages by hand:$missing" >&2
    exit 1
fi
$sudo apt-get update -q
# shellcheck disable=SC2086  # $missing is a word list on purpose
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
