"""Colour science: sRGB <-> CIE Lab in TF ops (tf_lab) and numpy (np_lab), the
full-resolution recombination tables colorize uses (fullres), Zhang et al.'s
quantised ab bins (ab_bins) and Hasler & Süsstrunk's colourfulness."""
