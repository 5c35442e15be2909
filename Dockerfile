# The genoteam MCP server image: runs `genoteam serve` (stdio by default) and starts the
# analysis sandboxes as sibling containers through the host's Docker engine (mounted socket).
#
#   docker build -t genoteam-server .                       # public base: python:3.11-slim
#   docker run -i --rm --init \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     -v "$DATA":/input:ro \
#     -v "$WS":"$WS" -e GENOTEAM_WORKSPACE="$WS" \
#     genoteam-server
#
# Workspace path mapping: the sandboxes are siblings, so the Docker engine resolves their bind
# mounts on the HOST. Mount the workspace at the same absolute path inside this container as on
# the host (and say so in GENOTEAM_WORKSPACE); then every path the server hands to Docker exists
# on the host too. Secrets (GENOTEAM_TOKEN, model API keys) go in with -e/--env-file, never args.
# Machines without a registry build a local base (sandbox_image/build_base.sh) and pass it with
# --build-arg BASE_IMAGE=...; the tests build with pull=False and run with --pull=never.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ARG PIP_INDEX_URL=https://pypi.org/simple
ENV LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Dependencies first (read from pyproject.toml), so a source change does not reinstall them.
# build-ca.cr[t]: the builder's CA bundle when the build context has one (proxies); optional.
COPY pyproject.toml build-ca.cr[t] /opt/genoteam/
RUN python3 -m venv /opt/venv \
 && cert="" && if [ -f /opt/genoteam/build-ca.crt ]; then cert="--cert /opt/genoteam/build-ca.crt"; fi \
 && python3 -c "import tomllib; print('\n'.join(tomllib.load(open('/opt/genoteam/pyproject.toml','rb'))['project']['dependencies']))" >/tmp/requirements.txt \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check $cert --index-url "${PIP_INDEX_URL}" -r /tmp/requirements.txt \
 && rm -f /tmp/requirements.txt

COPY README.md /opt/genoteam/README.md
COPY genoteam/ /opt/genoteam/genoteam/
COPY guidelines/ /opt/genoteam/guidelines/
# PIP_CERT (not --cert): pip's build-isolation subprocess fetching setuptools must trust it too.
RUN if [ -f /opt/genoteam/build-ca.crt ]; then export PIP_CERT=/opt/genoteam/build-ca.crt; fi \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --index-url "${PIP_INDEX_URL}" --no-deps /opt/genoteam \
 && rm -f /opt/genoteam/build-ca.crt \
 && /opt/venv/bin/genoteam --version

# /input: the GenoTEX-layout data (read-only); /workspace: jobs (override with the host path,
# see above). The server talks to the engine at /var/run/docker.sock (root: access to the socket
# is root-equivalent on the host anyway; analysis code itself runs in the hardened sandbox).
ENV GENOTEAM_INPUT=/input \
    GENOTEAM_WORKSPACE=/workspace \
    GENOTEAM_GUIDELINES=/opt/genoteam/guidelines
ARG CONTEXT_HASH=unknown
LABEL org.opencontainers.image.title="genoteam MCP server" \
      genoteam.server.context-hash="${CONTEXT_HASH}"
WORKDIR /workspace
ENTRYPOINT ["genoteam", "serve"]
