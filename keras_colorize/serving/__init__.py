"""Exporting a trained colorizer for deployment: the SavedModel with its TF
Serving signatures (saved_model) and the .tflite variants with their parity
and latency report (tflite). Used by ``python -m keras_colorize.export`` and,
for a run's .tflite twin, by ``fit``."""
