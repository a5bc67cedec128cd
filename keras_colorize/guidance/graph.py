"""Calling a colorizer that may be guided, in TF ops (serving, export and evaluation).

The TF twin of keras_colorize.contract.fill_guidance: a guided colorizer gets
zeros for the guidance it is not given (that is how it was trained to work on
its own); an unguided one refuses guidance.
"""

import tensorflow as tf

from keras_colorize.contract import HINT_CHANNELS, NOT_GUIDED, REFERENCE_BINS, is_guided


def no_guidance(l_norm):
    """All-zero hints (B, H, W, 3) and reference (B, REFERENCE_BINS) for L_norm (B, H, W, 1)."""
    shape = tf.shape(l_norm)
    hints = tf.zeros(tf.concat([shape[:3], [HINT_CHANNELS]], axis=0), l_norm.dtype)
    reference = tf.zeros(tf.stack([shape[0], REFERENCE_BINS]), l_norm.dtype)
    return hints, reference


def call_colorizer(colorizer, l_norm, hints=None, reference=None):
    """ab_norm of ``colorizer`` in inference mode, with whatever guidance it takes.

    An unguided colorizer gets L alone (hints must then be None); a guided
    one gets zeros for the guidance not given.
    """
    if not is_guided(colorizer):
        if hints is not None or reference is not None:
            raise ValueError(f"this colorizer {NOT_GUIDED}")
        return colorizer(l_norm, training=False)
    no_hints, no_reference = no_guidance(l_norm)
    hints = no_hints if hints is None else hints
    reference = no_reference if reference is None else reference
    return colorizer([l_norm, hints, reference], training=False)
