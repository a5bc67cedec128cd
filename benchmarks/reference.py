"""The reference pix2pix in PyTorch, timed in the benchmark's run next to our GAN.

benchmarks/pytorch_pix2pix.py is run by another interpreter (one
with torch; keras-colorize does not depend on it) for every GAN width the
training section timed, in float32 and, where ours ran mixed_bfloat16, in
bfloat16 autocast. Each run is a subprocess: its threads and memory are its own.
"""

import json
import os
import subprocess

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pytorch_pix2pix.py")
PIX2PIX_FAMILY = "gan"  # the family that the script rebuilds in PyTorch
TORCH_DTYPES = {"float32": "float32", "mixed_bfloat16": "bfloat16"}
TIMEOUT_SECONDS = 900


class TorchReferenceError(RuntimeError):
    """The reference script could not run; one-line message."""


def check_python(python):
    """Raises TorchReferenceError unless ``python`` runs and imports torch."""
    try:
        subprocess.run([python, "-c", "import torch"], check=True, capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as error:
        raise TorchReferenceError(
            f"--torch-python {python} cannot import torch ({error})"
        ) from None


def run_reference(python, gan, dtype, steps, repeats):
    """images/second of the PyTorch pix2pix step mirroring ``gan`` (a training row of ours).

    Returns the script's JSON dict.
    """
    command = [
        python,
        SCRIPT,
        f"--ngf={gan['width']}",
        f"--ndf={gan['disc_width']}",
        f"--num-downs={gan['num_downs']}",
        f"--n-layers={gan['disc_layers']}",
        f"--size={gan['image_size']}",
        f"--batch-size={gan['batch_size']}",
        f"--dtype={dtype}",
        f"--steps={steps}",
        f"--repeats={repeats}",
    ]
    try:
        done = subprocess.run(
            command, check=True, capture_output=True, text=True, timeout=TIMEOUT_SECONDS
        )
        return json.loads(done.stdout.strip().splitlines()[-1])
    except subprocess.CalledProcessError as error:
        last = (error.stderr or "").strip().splitlines()[-1:] or ["no output"]
        raise TorchReferenceError(f"the PyTorch reference failed: {last[0][:300]}") from None
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as error:
        raise TorchReferenceError(f"the PyTorch reference failed: {error}") from None


ARCHITECTURE = ("width", "disc_width", "num_downs", "disc_layers", "image_size", "batch_size")


def compare(python, training_rows, steps, repeats):
    """One row per GAN training row, with ours / reference ratios.

    The float32 reference is measured once per architecture; a mixed_bfloat16 row
    of ours is compared with both PyTorch's bfloat16 and its float32 figure.
    """
    rows, measured = [], {}
    for ours in training_rows:
        if ours["family"] != PIX2PIX_FAMILY or ours["precision"] not in TORCH_DTYPES:
            continue
        key = tuple(ours[name] for name in ARCHITECTURE)
        for dtype in ("float32", TORCH_DTYPES[ours["precision"]]):
            if (key, dtype) not in measured:
                measured[(key, dtype)] = run_reference(python, ours, dtype, steps, repeats)
        same = measured[(key, TORCH_DTYPES[ours["precision"]])]
        float32 = measured[(key, "float32")]
        rows.append(
            {
                "preset": ours["preset"],
                "width": ours["width"],
                "disc_width": ours["disc_width"],
                "precision": ours["precision"],
                "images_per_second": ours["images_per_second"],
                "reference": same,
                "ratio_same_dtype": ours["images_per_second"] / same["images_per_second"],
                "reference_float32": float32,
                "ratio_to_float32": ours["images_per_second"] / float32["images_per_second"],
            }
        )
    return rows
