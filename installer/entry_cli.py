"""PyInstaller entry point of the `resocket` command."""
import sys

from resocket.cli import main

if __name__ == "__main__":
    sys.exit(main())
