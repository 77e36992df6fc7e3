# syntax=docker/dockerfile:1
# One image for every Lily process: `lily serve` (the default command), `lily worker` and
# `lily db upgrade`. Three stages: the web dashboard (Next.js static export), the wheel (which
# carries the dashboard in lily_http/web, see setup.py), and a slim runtime that installs only
# the wheel and runs as an unprivileged user. No secret is baked in: every setting comes from
# the environment at run time (see .env.example).

ARG NODE_IMAGE=node:20-bookworm-slim
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- 1. the web dashboard ---------------------------------------------------------------------
FROM ${NODE_IMAGE} AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# -- 2. the wheel -----------------------------------------------------------------------------
# Built where npm is, so that setup.py's build_dashboard finds the fresh export of stage 1
# and copies it into the wheel (it rebuilds nothing: web/out is newer than its sources).
FROM web AS wheel
# Debian bookworm's python3 is 3.11, the version Lily is tested with; the wheel is pure Python
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-pip python3-venv \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md LICENSE ./
COPY lily_core/ lily_core/
COPY lily_adapters/ lily_adapters/
COPY lily_http/ lily_http/
COPY lily_cli/ lily_cli/
COPY lily_worker/ lily_worker/
COPY migrations/ migrations/
RUN python3 -m venv /tmp/build \
    && /tmp/build/bin/pip install --no-cache-dir "pip>=24" "setuptools>=69" wheel \
    && /tmp/build/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation -w /dist . \
    && python3 -c "import sys, zipfile, glob; names = zipfile.ZipFile(glob.glob('/dist/*.whl')[0]).namelist(); sys.exit(0 if 'lily_http/web/index.html' in names else 'the wheel has no dashboard')"

# -- 3. the runtime ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/lily/bin:$PATH \
    LILY_DATA_DIR=/var/lib/lily/data \
    LILY_DATABASE_URL=sqlite:////var/lib/lily/lily.db
COPY --from=wheel /dist/ /tmp/dist/
RUN python -m venv /opt/lily \
    && /opt/lily/bin/pip install /tmp/dist/*.whl \
    && rm -rf /tmp/dist \
    && groupadd --system --gid 10001 lily \
    && useradd --system --uid 10001 --gid lily --home-dir /var/lib/lily --shell /usr/sbin/nologin lily \
    && mkdir -p /var/lib/lily/data \
    && chown -R lily:lily /var/lib/lily
WORKDIR /var/lib/lily
USER 10001:10001
EXPOSE 8000
# /healthz touches nothing but the process; python is in the image, curl is not
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["lily"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
