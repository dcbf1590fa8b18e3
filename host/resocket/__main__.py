"""`python -m resocket`: the `resocket` command, for when its script is not on PATH (e.g. a venv not activated)."""
import sys

from resocket.cli import main

if __name__ == "__main__":
    sys.exit(main())
