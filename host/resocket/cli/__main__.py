"""`python -m resocket.cli`: the `resocket` command."""
import sys

from resocket.cli import main

sys.exit(main())
