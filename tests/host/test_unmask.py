"""RFC 6455 unmasking (resocket.engine.datachannel): the NumPy path and the stdlib path give the same bytes for every
length and alignment."""
from __future__ import annotations

import os
import time

import pytest
from resocket.engine import datachannel


def xor(mask: bytes, payload: bytes) -> bytes:
    return bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 7, 2047, 2048, 2049, 2051, 65536, 65539])
def test_stdlib_unmask_is_the_rfc_xor(n: int) -> None:
    mask, payload = os.urandom(4), os.urandom(n)
    assert datachannel.unmask_stdlib(mask, payload) == xor(mask, payload)


def test_numpy_unmask_equals_the_stdlib_one_for_every_length_and_offset() -> None:
    pytest.importorskip("numpy")  # installed by `make test` (the `fast` extra): RESOCKET_NO_SKIP fails a skip
    datachannel.load_numpy()
    deadline = time.monotonic() + 30
    while datachannel._numpy is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert datachannel._numpy is not None
    big = os.urandom(70000)
    for n in (2048, 2049, 2050, 2051, 4096, 65536, 65539):
        for offset in (0, 1, 2, 3):  # payloads sliced out of a frame need not be aligned
            mask, payload = os.urandom(4), big[offset:offset + n]
            assert datachannel.unmask(mask, payload) == datachannel.unmask_stdlib(mask, payload), (n, offset)
