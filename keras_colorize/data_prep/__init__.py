"""Offline dataset preparation: image folders -> colourfulness-filtered TFRecord shards.

Run ``python -m keras_colorize.data_prep --src DIR [DIR ...] --out OUT``
(``keras-colorize-prep``). Reads photos, scores their colourfulness, splits
by content hash and writes the records in keras_colorize.data.schema's format;
nothing in the rest of the package imports it.
"""
