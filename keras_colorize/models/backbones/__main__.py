"""``python -m keras_colorize.models.backbones``: the weight conversion command (see convert)."""

import sys

from keras_colorize.models.backbones.convert import main

if __name__ == "__main__":
    sys.exit(main())
