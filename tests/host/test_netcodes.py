"""The errno -> net error table (net/base/net_errors_posix.cc MapSystemError), as the app sees it: the code
and the lastError text."""
from __future__ import annotations

import errno

import pytest
from resocket.chrome.netcodes import from_errno, net_error_string


@pytest.mark.parametrize("err,code,text", [
    # IPV6_JOIN_GROUP on a host with no route to the group (oracle multicast_families: -4)
    (errno.ENODEV, -4, "net::ERR_INVALID_ARGUMENT"),
    (errno.EBADF, -5, "net::ERR_INVALID_HANDLE"),
    (errno.ENOBUFS, -176, "net::ERR_NO_BUFFER_SPACE"),
    (errno.ENOMEM, -13, "net::ERR_OUT_OF_MEMORY"),
    (errno.EPERM, -10, "net::ERR_ACCESS_DENIED"),
    (errno.EBUSY, -12, "net::ERR_INSUFFICIENT_RESOURCES"),
    (errno.ENOENT, -6, "net::ERR_FILE_NOT_FOUND"),
    (errno.EFAULT, -4, "net::ERR_INVALID_ARGUMENT"),
    (errno.EADDRNOTAVAIL, -108, "net::ERR_ADDRESS_INVALID"),
    (errno.EPIPE, -101, "net::ERR_CONNECTION_RESET"),
    (errno.EOPNOTSUPP, -11, "net::ERR_NOT_IMPLEMENTED"),
    (errno.EILSEQ, -2, "net::ERR_FAILED"),  # not in Chrome's table
    (0, -2, "net::ERR_FAILED"),
])
def test_an_os_error_reads_as_chrome_reports_it(err: int, code: int, text: str) -> None:
    assert from_errno(err) == code
    assert net_error_string(from_errno(err)) == text
