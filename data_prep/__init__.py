"""Offline dataset preparation: image folders -> colourfulness-filtered TFRecord shards.

Run ``python -m data_prep --src DIR [DIR ...] --out OUT``. Depends on
keras_colorize for the record schema and constants, never the other way round.
"""
