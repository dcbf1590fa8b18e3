"""Exceptions of socket and TLS calls -> Chrome's net error codes.

The mapping is Chrome's (the tables in chrome/netcodes.py, with their Chromium sources); this module only
reads the exceptions, which come from `socket` and `ssl`, so it sits in the engine next to the sockets.
"""
from __future__ import annotations

import socket
import ssl

from resocket.chrome.netcodes import SSL_REASON_TO_NET, X509_TO_NET, NetError, from_errno


def from_ssl_error(exc: BaseException) -> int:
    """A TLS handshake failure -> Chrome's code (certificate errors first, then protocol errors)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return int(X509_TO_NET.get(exc.verify_code, NetError.CERT_INVALID))
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        # The peer closed the connection mid-handshake: Chromium reports ERR_CONNECTION_CLOSED.
        return NetError.CONNECTION_CLOSED
    if isinstance(exc, ssl.SSLError):
        return int(SSL_REASON_TO_NET.get(exc.reason or "", NetError.SSL_PROTOCOL_ERROR))
    return from_exception(exc)


def from_exception(exc: BaseException) -> int:
    """Any exception from a socket call -> net error."""
    if isinstance(exc, socket.gaierror):
        return NetError.NAME_NOT_RESOLVED  # host_resolver: every getaddrinfo failure is NAME_NOT_RESOLVED
    if isinstance(exc, ssl.SSLError):
        return from_ssl_error(exc)
    if isinstance(exc, OSError):
        return from_errno(exc.errno)
    return NetError.FAILED
