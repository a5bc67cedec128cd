"""`python -m data_prep` from a checkout: the same command as `python -m keras_colorize.data_prep`.

Not part of the installed package (keras_colorize.data_prep is). Kept tiny:
the build's spawned workers re-import this file.
"""

import sys

if __name__ == "__main__":
    from keras_colorize.data_prep.__main__ import main

    sys.exit(main())
