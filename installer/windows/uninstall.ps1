# Remove the HKCU registry keys and manifests that install.ps1 wrote.
$ErrorActionPreference = 'Stop'
$here = Split-Path -Parent $MyInvocation.MyCommand.Path
& (Join-Path $here 'resocket\resocket.exe') uninstall @args
exit $LASTEXITCODE
