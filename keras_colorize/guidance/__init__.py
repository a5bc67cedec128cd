"""User-guided colorization: colour hints, reference photos and their baselines."""
