# syntax=docker/dockerfile:1
# One image for every service of Noether Lab (web: `noether api`, workers: `noether worker`).
#
#   docker build -t noether-lab:cpu .                              # CPU build of PyTorch (small, default)
#   docker build -t noether-lab:cuda --build-arg TORCH_VARIANT=cuda .   # PyPI's build, CUDA bundled
#   docker build -t noether-lab:cu126 --build-arg TORCH_VARIANT=cu126 . # a given CUDA from PyTorch's index
#
# TORCH_VARIANT chooses where the pinned torch (pyproject.toml) comes from: `cpu` (PyTorch's CPU wheel
# index, about 200 MB), `cuda` (PyPI, whose x86_64 wheel is a CUDA build that pulls the nvidia-* runtime
# wheels, several GB), or a PyTorch index tag such as `cu126` / `cu128`. A GPU container needs only the
# host's NVIDIA driver and the NVIDIA Container Toolkit: the CUDA runtime comes with the wheels.

ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim

ARG TORCH_VARIANT=cpu
ARG TORCH_INDEX_BASE=https://download.pytorch.org/whl

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NOETHER_DATA_DIR=/data \
    NOETHER_HOST=0.0.0.0

WORKDIR /app

# 1. torch alone, at the version pyproject.toml pins: the largest layer, rebuilt only when the pin or
#    the variant changes.
COPY pyproject.toml ./
# hadolint ignore=DL3013
RUN set -eu; \
    torch_pin="$(python -c 'import tomllib; d = tomllib.load(open("pyproject.toml", "rb")); print(next(r for r in d["project"]["dependencies"] if r.replace(" ", "").startswith("torch==")))')"; \
    echo "installing ${torch_pin} (variant ${TORCH_VARIANT})"; \
    if [ "${TORCH_VARIANT}" = "cuda" ]; then \
        pip install "${torch_pin}"; \
    else \
        pip install "${torch_pin}" --index-url "${TORCH_INDEX_BASE}/${TORCH_VARIANT}"; \
    fi; \
    python -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'

# 2. the other dependencies, from pyproject.toml alone (cached until it changes). torch is already
#    satisfied: a local version such as 2.13.0+cpu matches the pin torch==2.13.0.
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# 3. the package itself.
COPY README.md ./
COPY noether ./noether
COPY workers ./workers
COPY backend ./backend
COPY dashboard ./dashboard
COPY lab ./lab
RUN pip install --no-deps . \
    && noether --help > /dev/null

# Run as an unprivileged user; the run store and data sets live on the /data volume.
RUN useradd --create-home --uid 1000 noether \
    && mkdir -p /data \
    && chown noether:noether /data
USER 1000:1000
VOLUME ["/data"]
EXPOSE 8050

ENTRYPOINT ["noether"]
CMD ["api"]
