# The image every Kubeflow / Vertex AI task of the compiled pipeline runs (avrec compile --runner kubeflow --image ...):
# the pinned stack installed as `make setup` installs it, this project, and the pretrained encoders built into
# /app/build/encoders, so no task downloads anything.
FROM python:3.11.7-slim-bookworm

# TFRS needs Keras 2 everywhere, including TFX's container entrypoint, which imports TensorFlow before avrec.
ENV TF_USE_LEGACY_KERAS=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/app/.venv/bin:$PATH

RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*
WORKDIR /app

# The lock first: the layer with the 3 GB stack is rebuilt only when the lock changes.
COPY requirements.lock pyproject.toml Makefile README.md ./
RUN python -m venv .venv \
    && .venv/bin/python -m pip install --quiet --no-deps --ignore-requires-python -r requirements.lock

COPY avrec/ avrec/
COPY models/ models/
COPY components/ components/
COPY pipeline/ pipeline/
COPY serving/ serving/
COPY schemas/ schemas/
COPY data/ data/
RUN .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e . \
    && touch .venv/.installed \
    && make setup

# TFX's KubeflowV2DagRunner starts each task with its own container entrypoint command; `avrec` is on PATH too.
CMD ["avrec", "--help"]
