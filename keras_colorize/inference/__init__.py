"""Colorizing photos with a trained colorizer, TensorFlow-free unless a .keras
file or SavedModel is opened: where the shipped model is (shipped), the
runtimes (backends), the full-resolution pipeline (pipeline), the user's
guidance files (user_guidance), which outputs a run writes (jobs) and the
batch loop that reads, colorizes and saves them (batch). Used by colorize,
the studio, evaluate and the benchmarks."""
