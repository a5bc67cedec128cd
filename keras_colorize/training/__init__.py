"""Training: the family registry (families: network builder, stride, trainer),
the trainers that own each family's loss (trainers), callbacks, precision and
distribution strategies, the run dir, and the loop behind
``python -m keras_colorize.fit`` (train)."""
