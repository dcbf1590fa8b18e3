"""The lastError messages of chrome.socket that the engine's own checks give, word for word.

From extensions/browser/api/socket/socket_api.cc and socket_api.h (Chrome 156); the messages of one kind of
socket live with it (engine/tcp.py, engine/udp.py, engine/sockets_api.py).
"""

PORT_RANGE = "Port must be a value between 0 and 65535."
NOT_FOUND = "Socket not found"
NO_PERMISSION = "App does not have permission"
DNS_FAILED = "DNS resolution failed"
QUOTA_EXCEEDED = "Exceeded write quota."
TCP_BIND = "TCP socket does not support bind. For TCP server please use listen."
NOT_SUPPORTED = "Socket type does not support this API"
MULTICAST_UDP_ONLY = "Only UDP socket supports multicast."
TLS_TCP_ONLY = "Only TCP sockets are supported for TLS."
NETWORK_LIST_FAILED = "Network lookup failed or unsupported"
