"""resocket: chrome.socket restored, over Chrome native messaging.

Layers, one folder each (docs/architecture.md; tests/test_layers.py holds the import rules):
  client/ (resocket-host: stdio, hello, grants) -> engine/ (the loop thread, every OS socket)
  -> chrome/ (Chrome's rules, pure) and wire/ (frames, requests, replies, pure); cli/ is the resocket command.
"""

__version__ = "0.1.0"

#: Native messaging host name (public contract: manifests, extension and installer use it).
HOST_NAME = "org.resocket.host"

#: Wire protocol version spoken in the hello exchange (docs/protocol.md). Bump on any incompatible change.
PROTOCOL_VERSION = 1

#: ID of the resocket extension in extension/, derived from the public "key" committed in its manifest.
#: Only a client started for this origin may speak for web pages (hello.args.origin).
EXTENSION_ID = "flgdmcpaemonpacjpigcafobmllikoco"
EXTENSION_ORIGIN = f"chrome-extension://{EXTENSION_ID}/"

#: The same extension's add-on ID in Firefox (its manifest's browser_specific_settings.gecko.id). Firefox
#: starts a host with argv [<manifest path>, <add-on ID>] and lists add-on IDs, not origins, in manifests;
#: the host takes this ID for EXTENSION_ORIGIN, so grants and the web-page relay are the same in both.
FIREFOX_EXTENSION_ID = "resocket@resocket.org"
