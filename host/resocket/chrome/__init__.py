"""Chrome's rules, as Chrome 156 applies them, with no I/O: net error codes and their messages
(`netcodes`), IP literals as Chrome reads them (`iplit`), socket permission rules (`permissions`).

Pure: no sockets, threads, event loop, files or OS calls (tests/test_layers.py holds it).
"""
