# syntax=docker/dockerfile:1
# Ensign controller image: `docker build -t ensign:0.1.0 .`
#
# Stage 1 builds Ensign's operator wheel and installs it with its runtime dependencies (versions
# pinned by requirements.lock; no dev tools) into /app. The operator wheel leaves out the local
# cluster, the test kits, the demo and the sandbox (pyproject.toml's wheel excludes; they are the
# `ensign-local` distribution, packaging/local); the build fails if the wheel carries them. Stage 2 is distroless: Debian 12's Python 3.11
# and nothing else, no shell, no package manager. Both stages are Debian 12 with Python 3.11,
# so the compiled wheels (aiohttp, msgspec, ...) match the runtime's glibc and ABI.

FROM python:3.11-slim-bookworm AS build
# Optional extras of the operator wheel. `aws` (botocore: the standard AWS credential chain for
# CloudWatch, IRSA and EKS Pod Identity included) is in by default, as Flagger's image supports
# CloudWatch; it is imported only when a CloudWatch template is used, so it costs disk, not
# memory. `docker build --build-arg EXTRAS= .` leaves it out.
ARG EXTRAS=aws
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
COPY deploy/crds ./deploy/crds
RUN pip wheel --no-deps --wheel-dir /wheels . \
 && python -c "import glob, sys, zipfile; names = zipfile.ZipFile(glob.glob('/wheels/ensign-*.whl')[0]).namelist(); bad = [n for n in names if n.startswith(('ensign/localcluster/', 'ensign/testing/'))]; sys.exit(f'operator wheel carries {bad[:3]}' if bad else 0)" \
 && wheel="$(ls /wheels/ensign-*.whl)" \
 && pip install --target /app --only-binary=:all: --constraint requirements.lock "${wheel}${EXTRAS:+[$EXTRAS]}"

FROM gcr.io/distroless/python3-debian12:nonroot
COPY --from=build /app /app
ENV PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# 65532 is distroless's "nonroot" user; the Kubernetes manifests run as the same UID.
USER 65532:65532
EXPOSE 8080
# /healthz, /readyz and /metrics on 8080; the manifests pass --metrics-addr=0.0.0.0:8080.
# python3.11 is the interpreter the distroless debian12 image ships (its own entrypoint).
ENTRYPOINT ["/usr/bin/python3.11", "-m", "ensign", "controller"]
