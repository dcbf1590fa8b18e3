#!/bin/sh
# Remove the native messaging manifests this copy of resocket wrote (pass --scope system if installed so).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/resocket/resocket" uninstall "$@"
