# Register this copy of resocket-host for the current user: `resocket.exe install` writes the manifests
# under %LOCALAPPDATA%\resocket\NativeMessagingHosts and, for each browser, the registry key
# HKCU\Software\<browser>\NativeMessagingHosts\org.resocket.host whose (Default) value is the manifest path.
# Extra arguments go to `resocket install` (e.g. -- --extension-id <id>); `resocket install --help` lists them.
# The manifests point at resocket\resocket-host.exe in this folder: unzip where it should live first.
$ErrorActionPreference = 'Stop'
$here = Split-Path -Parent $MyInvocation.MyCommand.Path
& (Join-Path $here 'resocket\resocket.exe') install @args
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Write-Host "Next: load the extension from $here\extension (chrome://extensions, Developer mode, Load unpacked)."
Write-Host "Check the setup any time with: $here\resocket\resocket.exe doctor"
