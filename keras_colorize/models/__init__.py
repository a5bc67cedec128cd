"""The colorization networks: plain functional builders, one module per family.

Builders return ``keras.Model``s mapping normalised lightness "L" to the
family's prediction; training code wraps them and owns the losses, and
``keras_colorize.training.families`` says which builder, stride and trainer belong to
which family. ``blocks`` holds the shared building blocks and ``layers`` the
custom layers that ``.keras`` files need registered.
"""
