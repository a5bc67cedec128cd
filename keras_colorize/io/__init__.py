"""Files in and out, without TensorFlow: reading any photo as uint8 RGB
(images), walking folders of photos (folders), fast PNG writing (png), atomic
saving (save) and JSON files with one-line errors (json_file)."""
