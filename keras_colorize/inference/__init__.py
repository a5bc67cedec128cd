"""Running a trained colorizer on photos: backends (.tflite, .keras, SavedModel) and the
full-resolution pipeline. Imports no TensorFlow unless a .keras file or SavedModel is opened."""
