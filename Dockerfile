# syntax=docker/dockerfile:1.7
# One image per deployable, from one parametrised Dockerfile (docs/deploy.md, "Images"):
#
#   docker build --build-arg SERVICE=complaints --build-arg PACKAGE=complaints --build-arg PORT=8101 \
#       -t careloop/complaints .
#
# SERVICE is the uv workspace member without its "careloop-" prefix, PACKAGE its Python package and
# PORT its port; libs/common/src/careloop_common/launcher/parts.py is the list (tests/test_deploy.py
# checks docker-compose.yml's build arguments against it). The image holds a virtualenv with that
# one package, careloop_common and their locked third-party dependencies: no other service's code,
# no dev tools, no sources.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: resolve the locked environment of one workspace member ----------------------------
FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
RUN test -n "${SERVICE}" || (echo "--build-arg SERVICE=<name> is required" >&2; exit 1)
RUN pip install --no-cache-dir uv==0.13.8
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# uv needs every workspace member's pyproject.toml to read the lock; only SERVICE is installed.
COPY pyproject.toml uv.lock README.md ./
COPY libs/ libs/
COPY services/ services/
# Third-party dependencies first (a layer that survives code edits), then the two workspace
# packages as real wheels (--no-editable), so /app/.venv does not point back into /src.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace --package "careloop-${SERVICE}"
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package "careloop-${SERVICE}"

# ---- runtime: the virtualenv alone, run as a non-root user on a read-only root filesystem -----
FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE
ARG PACKAGE
ARG PORT
RUN groupadd --system --gid 10001 careloop \
 && useradd --system --uid 10001 --gid careloop --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin careloop
COPY --from=build /app/.venv /app/.venv
# CARELOOP_HOME is where a service would keep local state (secrets it made itself, SQLite files);
# a deployment sets every secret and a PostgreSQL URL, so it stays empty on a tmpfs in /tmp.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CARELOOP_HOME=/tmp/careloop \
    CARELOOP_SERVICE=${SERVICE} \
    CARELOOP_APP=${PACKAGE}.main:create_app \
    CARELOOP_LISTEN_PORT=${PORT}
USER 10001:10001
WORKDIR /tmp
EXPOSE ${PORT}
# Liveness only (/healthz); orchestrators ask /readyz before sending traffic.
HEALTHCHECK --interval=15s --timeout=4s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['CARELOOP_LISTEN_PORT'] + '/healthz', timeout=3)"]
# exec: uvicorn becomes PID 1's only child of the shell and gets SIGTERM directly.
CMD ["/bin/sh", "-c", "exec uvicorn \"$CARELOOP_APP\" --factory --host 0.0.0.0 --port \"$CARELOOP_LISTEN_PORT\" --no-access-log --timeout-graceful-shutdown 10"]
