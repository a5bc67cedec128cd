"""keras-colorize: grayscale photos to colour with Keras models in CIE Lab.

The package root imports nothing heavy, so that light modules (constants,
colourfulness, image reading) can be used by data_prep worker processes
without loading TensorFlow.
"""

__version__ = "0.1.0"
