# Two images from one file (not built on the development machine: it has no Docker engine).
#
#   docker build --target trainer -t keras-colorize .
#   docker run --rm -v "$PWD:/work" keras-colorize keras_colorize.fit --model gan \
#       --data data/mine --run-dir runs/gan
#
#   python -m keras_colorize.export --run-dir models/colorizer   # -> models/colorizer/<N>/
#   docker build --target serving -t colorizer-serving .
#   docker run -p 8501:8501 colorizer-serving               # REST on :8501, gRPC on :8500

# TF Serving release to serve with; use one at least as new as the exporting TensorFlow (2.21).
ARG TF_SERVING_TAG=latest

# --- trainer: the library and its commands, CPU TensorFlow -------------------
FROM python:3.11-slim AS trainer
WORKDIR /opt/keras-colorize
COPY setup.py pyproject.toml README.md ./
COPY keras_colorize/ keras_colorize/
# The shipped colorizer goes into the wheel (setup.py copies it into the package).
COPY models/colorizer/colorizer.tflite models/colorizer/config.json models/colorizer/
RUN pip install --no-cache-dir ".[cpu]"
WORKDIR /work
# `docker run IMAGE keras_colorize.fit ...`, `... keras_colorize.export ...`,
# `... keras_colorize.data_prep ...`, `... keras_colorize.colorize ...`
ENTRYPOINT ["python", "-m"]
CMD ["keras_colorize.fit", "--help"]

# --- serving: TF Serving with the exported models/<name>/<version>/ tree ------
FROM tensorflow/serving:${TF_SERVING_TAG} AS serving
COPY models/ /models/
# Must match keras_colorize.artifacts.DEFAULT_MODEL_NAME, export's default --out models/colorizer.
ENV MODEL_NAME=colorizer
