"""Colorizing video without TensorFlow: streaming frames, optical flow, temporal consistency."""
