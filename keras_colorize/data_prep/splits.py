"""Deterministic train/val/test assignment from a file's content hash.

The split depends on nothing but the file's own bytes, so re-runs, new files
and reordered folders never move an image from one split to another.
"""


def hash_fraction(key):
    """Maps a hex SHA-256 to a number in [0, 1) using its first 64 bits."""
    return int(key[:16], 16) / 2.0**64


def assign_split(key, val_fraction, test_fraction):
    """'test' if u < test_fraction, 'val' if u < test_fraction + val_fraction, else 'train'."""
    u = hash_fraction(key)
    if u < test_fraction:
        return "test"
    if u < test_fraction + val_fraction:
        return "val"
    return "train"
