"""PyInstaller entry point of `resocket-host` (the native messaging host)."""
import sys

from resocket.client.serve import main

if __name__ == "__main__":
    sys.exit(main())
