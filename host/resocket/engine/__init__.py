"""The engine: the one event-loop thread that owns every OS socket of a client.

The only code that touches the network: the loop with its calls and resolver (`loop`), non-blocking
sockets on it (`ossocket`), chrome.socket's TCP/TLS and UDP sockets (`tcp`, `tls`, `udp`), chrome.sockets.*
(`sockets_api`), the network list (`netlist`) and the loopback data-channel server (`datachannel`).
It imports the wire and Chrome's rules, never the client or the CLI.
"""
