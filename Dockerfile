# One image for every service of Noether Lab (web: `noether api`, workers: `noether worker`).
#
#   docker build -t noether-lab:cpu .                              # CPU build of PyTorch (small, default)
#   docker build -t noether-lab:cuda --build-arg TORCH_VARIANT=cuda .   # PyPI's build, CUDA bundled
#   docker build -t noether-lab:cu126 --build-arg TORCH_VARIANT=cu126 . # a given CUDA from PyTorch's index
#
# TORCH_VARIANT chooses where the pinned torch (pyproject.toml) comes from: `cpu` (PyTorch's CPU wheel
# index, about 200 MB), `cuda` (PyPI, whose x86_64 wheel is a CUDA build that pulls the nvidia-* runtime
# wheels, several GB), a PyTorch index tag such as `cu126` / `cu128`, or `wheels` (the torch wheel put
# in the build context's docker/wheels, see below; its dependencies still come from the package index).
# A GPU container needs only the host's NVIDIA driver and the NVIDIA Container Toolkit: the CUDA
# runtime comes with the wheels.
#
# Builds on an air-gapped or proxied network (docs/operations.md, "Building the image offline"):
#   BASE_IMAGE   any image with Python 3.11 and its venv module (default: the official python slim
#                image), e.g. one made with mmdebstrap + `docker import` (scripts/compose-smoke.sh)
#   docker/wheels   wheels that pip may use (find-links; the folder is mounted into the build, not
#                copied into the image), e.g. a local torch wheel with TORCH_VARIANT=wheels; empty in git
#                (a fixed path: BuildKit in Docker 20.10 does not expand build arguments in --mount)
#   secret extra_ca   a PEM file of CA certificates that pip trusts besides the base image's bundle
#                (a TLS-inspecting proxy): `docker build --secret id=extra_ca,src=proxy-ca.pem ...`;
#                used only while building, never stored in the image
# The RUN --mount options need BuildKit (the default builder since Docker 23; DOCKER_BUILDKIT=1 on
# 20.10). No `# syntax=` line: BuildKit's built-in Dockerfile frontend suffices, so the build does
# not need to pull a frontend image from Docker Hub.

ARG PYTHON_VERSION=3.11
ARG BASE_IMAGE=python:${PYTHON_VERSION}-slim
FROM ${BASE_IMAGE}

ARG TORCH_VARIANT=cpu
ARG TORCH_INDEX_BASE=https://download.pytorch.org/whl

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NOETHER_DATA_DIR=/data \
    NOETHER_HOST=0.0.0.0 \
    PATH=/opt/venv/bin:$PATH

WORKDIR /app

# The lab lives in a virtual environment: the same on the official image and on a plain Debian base,
# whose system Python refuses pip installs (PEP 668) and has no `pip` or `python` command.
RUN python3 -m venv /opt/venv
COPY docker/with-extra-ca /usr/local/bin/with-extra-ca

# 1. torch alone, at the version pyproject.toml pins: the largest layer, rebuilt only when the pin or
#    the variant changes.
COPY pyproject.toml ./
# hadolint ignore=DL3013
RUN --mount=type=bind,source=docker/wheels,target=/wheels \
    --mount=type=secret,id=extra_ca \
    set -eu; \
    torch_pin="$(python -c 'import tomllib; d = tomllib.load(open("pyproject.toml", "rb")); print(next(r for r in d["project"]["dependencies"] if r.replace(" ", "").startswith("torch==")))')"; \
    echo "installing ${torch_pin} (variant ${TORCH_VARIANT})"; \
    if [ "${TORCH_VARIANT}" = "cuda" ]; then \
        with-extra-ca pip install --find-links /wheels "${torch_pin}"; \
    elif [ "${TORCH_VARIANT}" = "wheels" ]; then \
        pip install --no-index --no-deps --find-links /wheels "${torch_pin}"; \
        with-extra-ca pip install --find-links /wheels "${torch_pin}"; \
    else \
        with-extra-ca pip install "${torch_pin}" --index-url "${TORCH_INDEX_BASE}/${TORCH_VARIANT}"; \
    fi; \
    python -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'

# 2. the other dependencies, from pyproject.toml alone (cached until it changes). torch is already
#    satisfied: a local version such as 2.13.0+cpu matches the pin torch==2.13.0.
RUN --mount=type=bind,source=docker/wheels,target=/wheels \
    --mount=type=secret,id=extra_ca \
    set -eu; \
    python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > /tmp/requirements.txt; \
    with-extra-ca pip install --find-links /wheels -r /tmp/requirements.txt; \
    rm -f /tmp/requirements.txt

# 3. the package itself.
COPY README.md ./
COPY noether ./noether
COPY workers ./workers
COPY backend ./backend
COPY dashboard ./dashboard
COPY lab ./lab
COPY labsettings ./labsettings
RUN --mount=type=secret,id=extra_ca \
    with-extra-ca pip install --no-deps . \
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
