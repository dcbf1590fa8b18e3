"""One browser client: `resocket-host` serving one native-messaging connection (`serve`) over stdio
(`transport`): hello, grants, the engine, and what goes out when.

Imports the wire, Chrome's rules, grants and the engine; never the CLI.
"""
