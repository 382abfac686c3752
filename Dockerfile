# Kata Providers in a container. The daemon is a localhost sidecar; in a container it must bind
# 0.0.0.0 to be reachable through a port mapping, so the Host check needs --allowed-host for the
# address clients use, and the token must come from the environment (KATA_PROVIDERS_TOKEN).
#
#   docker build -t kata-providers .
#   docker run --rm -p 127.0.0.1:8765:8765 -e KATA_PROVIDERS_TOKEN="$(openssl rand -base64 32)" \
#     kata-providers --allowed-host localhost:8765 --allowed-host 127.0.0.1:8765
# Pinned to an exact release (a digest cannot be resolved from this build machine, which reaches
# only package registries; pin by digest where your registry is reachable).
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    KATA_PROVIDERS_HOME=/data

RUN useradd --create-home --uid 10001 kata \
 && mkdir -p /data && chown kata:kata /data && chmod 0700 /data

WORKDIR /app
# Dependencies from the lock first (exact versions, hashes checked), so code changes reuse the layer.
COPY requirements.lock ./
RUN pip install --no-compile --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY service ./service
COPY adapters ./adapters
COPY contracts ./contracts
RUN pip install --no-compile --no-deps . && rm -rf /root/.cache

USER kata
VOLUME ["/data"]
EXPOSE 8765
# The CLI finds the daemon (and its token) through the discovery file in /data.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["kata-providers", "wait", "--timeout", "3"]
ENTRYPOINT ["kata-providers", "serve", "--host", "0.0.0.0", "--port", "8765", "--log-format", "json"]
