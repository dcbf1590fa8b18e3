#!/bin/sh
# Register this copy of resocket-host with the browsers found for the current user (or, with
# --scope system, with the browsers installed on the machine).
#
#   ./install.sh                      every browser whose profile folder exists, per user
#   sudo ./install.sh --scope system  system-wide (all users; what enterprise policy may require): every
#                                     browser whose program is installed (/usr/bin/chromium,
#                                     /opt/google/chrome, /opt/microsoft/msedge, /opt/brave.com, ...),
#                                     even one nobody has started yet; --browser NAME picks one
#   ./install.sh --help               every option of `resocket install`
#
# The manifests point at resocket/resocket-host in this folder: extract the archive where it should live
# (e.g. ~/.local/opt/resocket) before running this, and run it again after moving the folder.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
"$here/resocket/resocket" install "$@"
echo "Next: load the extension from $here/extension (chrome://extensions, Developer mode, Load unpacked)."
echo "Check the setup any time with: $here/resocket/resocket doctor"
