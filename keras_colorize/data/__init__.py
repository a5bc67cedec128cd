"""Dataset files: the TFRecord schema (shared by writer and reader) and the input pipeline."""
