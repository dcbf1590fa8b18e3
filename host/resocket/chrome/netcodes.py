"""Chrome's net error codes as chrome.socket reports them, and how Chromium maps OS and TLS failures onto them.

Pure: no I/O (the exceptions themselves are read in engine/oserrors.py, where sockets and TLS live). Codes and names come from Chromium's net/base/net_error_list.h; the errno table follows
net/base/net_errors_posix.cc (MapSystemError) plus net/socket/tcp_socket_posix.cc (MapConnectError),
and the TLS tables follow net/socket/openssl_ssl_util.cc (MapOpenSSLErrorSSL) and
net/cert/cert_status_flags.cc (MapCertStatusToNetError). Codes are only ever appended.
"""
from __future__ import annotations

import errno
from enum import IntEnum


class NetError(IntEnum):
    """net::Error values used by chrome.socket (net/base/net_error_list.h)."""

    OK = 0
    IO_PENDING = -1
    FAILED = -2
    ABORTED = -3
    INVALID_ARGUMENT = -4
    INVALID_HANDLE = -5
    FILE_NOT_FOUND = -6
    TIMED_OUT = -7
    FILE_TOO_BIG = -8
    ACCESS_DENIED = -10
    NOT_IMPLEMENTED = -11
    INSUFFICIENT_RESOURCES = -12
    OUT_OF_MEMORY = -13
    SOCKET_NOT_CONNECTED = -15
    FILE_EXISTS = -16
    FILE_PATH_TOO_LONG = -17
    FILE_NO_SPACE = -18
    SOCKET_IS_CONNECTED = -23
    UNEXPECTED = -9
    CONNECTION_CLOSED = -100
    CONNECTION_RESET = -101
    CONNECTION_REFUSED = -102
    CONNECTION_ABORTED = -103
    CONNECTION_FAILED = -104
    NAME_NOT_RESOLVED = -105
    INTERNET_DISCONNECTED = -106
    SSL_PROTOCOL_ERROR = -107
    ADDRESS_INVALID = -108
    ADDRESS_UNREACHABLE = -109
    SSL_VERSION_OR_CIPHER_MISMATCH = -113
    CONNECTION_TIMED_OUT = -118
    NAME_RESOLUTION_FAILED = -137
    NETWORK_ACCESS_DENIED = -138
    MSG_TOO_BIG = -142
    ADDRESS_IN_USE = -147
    NO_BUFFER_SPACE = -176
    CERT_COMMON_NAME_INVALID = -200
    CERT_DATE_INVALID = -201
    CERT_AUTHORITY_INVALID = -202
    CERT_INVALID = -207


def net_error_string(code: int) -> str:
    """Chrome's lastError text for a net error, e.g. -202 -> "net::ERR_CERT_AUTHORITY_INVALID"."""
    try:
        name = NetError(code).name
    except ValueError:
        return f"net::ERR_{code}"
    return "net::OK" if code == 0 else f"net::ERR_{name}"


# net/base/net_errors_posix.cc MapSystemError: the errno values it names. Anything else is ERR_FAILED.
_ERRNO_TO_NET: dict[int, NetError] = {
    errno.EAGAIN: NetError.IO_PENDING,
    errno.EWOULDBLOCK: NetError.IO_PENDING,
    errno.EACCES: NetError.ACCESS_DENIED,
    errno.ENETDOWN: NetError.INTERNET_DISCONNECTED,
    errno.ETIMEDOUT: NetError.TIMED_OUT,
    errno.ECONNRESET: NetError.CONNECTION_RESET,
    errno.ENETRESET: NetError.CONNECTION_RESET,
    errno.EPIPE: NetError.CONNECTION_RESET,
    errno.ECONNABORTED: NetError.CONNECTION_ABORTED,
    errno.ECONNREFUSED: NetError.CONNECTION_REFUSED,
    errno.EHOSTUNREACH: NetError.ADDRESS_UNREACHABLE,
    errno.EHOSTDOWN: NetError.ADDRESS_UNREACHABLE,
    errno.ENETUNREACH: NetError.ADDRESS_UNREACHABLE,
    errno.EAFNOSUPPORT: NetError.ADDRESS_UNREACHABLE,
    errno.EADDRNOTAVAIL: NetError.ADDRESS_INVALID,
    errno.EMSGSIZE: NetError.MSG_TOO_BIG,
    errno.ENOTCONN: NetError.SOCKET_NOT_CONNECTED,
    errno.EISCONN: NetError.SOCKET_IS_CONNECTED,
    errno.EINVAL: NetError.INVALID_ARGUMENT,
    errno.EADDRINUSE: NetError.ADDRESS_IN_USE,
    errno.E2BIG: NetError.INVALID_ARGUMENT,
    errno.EBADF: NetError.INVALID_HANDLE,
    errno.EBUSY: NetError.INSUFFICIENT_RESOURCES,
    errno.ECANCELED: NetError.ABORTED,
    errno.EDEADLK: NetError.INSUFFICIENT_RESOURCES,
    errno.EDQUOT: NetError.FILE_NO_SPACE,
    errno.EEXIST: NetError.FILE_EXISTS,
    errno.EFAULT: NetError.INVALID_ARGUMENT,
    errno.EFBIG: NetError.FILE_TOO_BIG,
    errno.EISDIR: NetError.ACCESS_DENIED,
    errno.ENAMETOOLONG: NetError.FILE_PATH_TOO_LONG,
    errno.ENFILE: NetError.INSUFFICIENT_RESOURCES,
    errno.ENOBUFS: NetError.NO_BUFFER_SPACE,
    errno.ENODEV: NetError.INVALID_ARGUMENT,  # e.g. IPV6_JOIN_GROUP with no route to the group
    errno.ENOENT: NetError.FILE_NOT_FOUND,
    errno.ENOLCK: NetError.INSUFFICIENT_RESOURCES,
    errno.ENOMEM: NetError.OUT_OF_MEMORY,
    errno.ENOSPC: NetError.FILE_NO_SPACE,
    errno.ENOSYS: NetError.NOT_IMPLEMENTED,
    errno.ENOTDIR: NetError.FILE_NOT_FOUND,
    errno.ENOTSUP: NetError.NOT_IMPLEMENTED,
    errno.EOPNOTSUPP: NetError.NOT_IMPLEMENTED,  # the same value as ENOTSUP on Linux
    errno.EPERM: NetError.ACCESS_DENIED,
    errno.EROFS: NetError.ACCESS_DENIED,
    errno.ETXTBSY: NetError.ACCESS_DENIED,
    errno.EMFILE: NetError.INSUFFICIENT_RESOURCES,
}
if hasattr(errno, "EUSERS"):  # not on every platform
    _ERRNO_TO_NET[errno.EUSERS] = NetError.INSUFFICIENT_RESOURCES


def from_errno(err: int | None) -> int:
    """MapSystemError: an errno value -> net error (ERR_FAILED when Chromium names no mapping)."""
    if not err:
        return NetError.FAILED
    return int(_ERRNO_TO_NET.get(err, NetError.FAILED))


def from_connect_errno(err: int | None) -> int:
    """MapConnectError (net/socket/tcp_socket_posix.cc): connect() reports ETIMEDOUT as
    CONNECTION_TIMED_OUT, EACCES as NETWORK_ACCESS_DENIED, and an unnamed errno as CONNECTION_FAILED."""
    if err == errno.ETIMEDOUT:
        return NetError.CONNECTION_TIMED_OUT
    if err == errno.EACCES:
        return NetError.NETWORK_ACCESS_DENIED
    code = from_errno(err)
    return NetError.CONNECTION_FAILED if code == NetError.FAILED else code


# X509_V_ERR_* values (openssl/x509_vfy.h) -> the net error Chrome shows for the matching CertStatus
# (cert_status_flags.cc MapCertStatusToNetError): unknown issuer / self-signed -> AUTHORITY_INVALID,
# expired / not yet valid -> DATE_INVALID, name mismatch -> COMMON_NAME_INVALID, others -> CERT_INVALID.
X509_TO_NET: dict[int, NetError] = {
    2: NetError.CERT_AUTHORITY_INVALID,   # UNABLE_TO_GET_ISSUER_CERT
    18: NetError.CERT_AUTHORITY_INVALID,  # DEPTH_ZERO_SELF_SIGNED_CERT
    19: NetError.CERT_AUTHORITY_INVALID,  # SELF_SIGNED_CERT_IN_CHAIN
    20: NetError.CERT_AUTHORITY_INVALID,  # UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21: NetError.CERT_AUTHORITY_INVALID,  # UNABLE_TO_VERIFY_LEAF_SIGNATURE
    24: NetError.CERT_AUTHORITY_INVALID,  # INVALID_CA
    9: NetError.CERT_DATE_INVALID,        # CERT_NOT_YET_VALID
    10: NetError.CERT_DATE_INVALID,       # CERT_HAS_EXPIRED
    62: NetError.CERT_COMMON_NAME_INVALID,  # HOSTNAME_MISMATCH
    64: NetError.CERT_COMMON_NAME_INVALID,  # IP_ADDRESS_MISMATCH
}

# OpenSSL reason strings -> MapOpenSSLErrorSSL (openssl_ssl_util.cc); anything else is SSL_PROTOCOL_ERROR.
# Not NO_PROTOCOLS_AVAILABLE (a min above the max): BoringSSL's NO_SUPPORTED_VERSIONS_ENABLED is not in
# Chrome's list, and Chrome 156 answers -107 there (tests/e2e/scenarios/tls_versions.js).
SSL_REASON_TO_NET: dict[str, NetError] = {
    "NO_CIPHER_MATCH": NetError.SSL_VERSION_OR_CIPHER_MISMATCH,
    "NO_SHARED_CIPHER": NetError.SSL_VERSION_OR_CIPHER_MISMATCH,
    "NO_CIPHERS_AVAILABLE": NetError.SSL_VERSION_OR_CIPHER_MISMATCH,
    "TLSV1_ALERT_INSUFFICIENT_SECURITY": NetError.SSL_VERSION_OR_CIPHER_MISMATCH,
    "TLSV1_ALERT_PROTOCOL_VERSION": NetError.SSL_VERSION_OR_CIPHER_MISMATCH,
    "UNSUPPORTED_PROTOCOL": NetError.SSL_VERSION_OR_CIPHER_MISMATCH,
    "SSLV3_ALERT_HANDSHAKE_FAILURE": NetError.SSL_VERSION_OR_CIPHER_MISMATCH,
}
