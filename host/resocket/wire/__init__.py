"""The wire: what crosses native messaging and the data channel, as data (sans-I/O).

Pure: no sockets, threads, event loop, files or OS calls (tests/test_layers.py holds it). Frames in and
out (`framing`), the operation tables, request validation, sessions and reply shapes (`protocol`).
"""
