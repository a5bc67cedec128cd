"""`python -m keras_colorize.studio photo.jpg`: see keras_colorize.studio.server."""

import sys

from keras_colorize.studio.server import main

if __name__ == "__main__":
    sys.exit(main())
