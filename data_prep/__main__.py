"""`python -m data_prep`: see data_prep.cli. Kept tiny: spawned workers re-import this file."""

import sys

if __name__ == "__main__":
    from data_prep.cli import main

    sys.exit(main())
