# The genoteam MCP server image: runs `genoteam serve` (stdio by default) and starts the
# analysis sandboxes as sibling containers through the host's Docker engine (mounted socket).
#
#   docker build -t genoteam-server .           # public base python:3.11-slim (or: genoteam image build)
#   docker run --rm -v /var/run/docker.sock:/var/run/docker.sock genoteam-server image build --sandbox-only
#   docker run -i --rm --init \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     -v "$DATA":"$DATA":ro -e GENOTEAM_INPUT="$DATA" \
#     -v "$WS":"$WS" -e GENOTEAM_WORKSPACE="$WS" \
#     genoteam-server
#
# Same paths inside and out: the sandboxes are siblings, so the Docker engine resolves their bind
# mounts on the HOST. Mount the data and the workspace at the same absolute paths inside this
# container as on the host (and say so in GENOTEAM_INPUT/GENOTEAM_WORKSPACE); then every path the
# server hands to Docker exists on the host too. The server checks this at start and refuses a
# layout the sandboxes could not see. Secrets (GENOTEAM_TOKEN, model API keys) go in with -e NAME
# or --env-file, never args. Machines without a registry build a local base
# (sandbox_image/build_base.sh) and pass it with --build-arg BASE_IMAGE=... (genoteam image build
# does both, and builds the sandbox image too).
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
 && cert="" && if [ -s /opt/genoteam/build-ca.crt ]; then cert="--cert /opt/genoteam/build-ca.crt"; fi \
 && python3 -c "import tomllib; print('\n'.join(tomllib.load(open('/opt/genoteam/pyproject.toml','rb'))['project']['dependencies']))" >/tmp/requirements.txt \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check $cert --index-url "${PIP_INDEX_URL}" -r /tmp/requirements.txt \
 && rm -f /tmp/requirements.txt

# The sources; setup.py ships guidelines/ and sandbox_image/ inside the installed package, so the
# server finds its guidelines and can build or find the sandbox image with no extra setting.
COPY README.md setup.py MANIFEST.in /opt/genoteam/
COPY genoteam/ /opt/genoteam/genoteam/
COPY guidelines/ /opt/genoteam/guidelines/
COPY sandbox_image/ /opt/genoteam/sandbox_image/
# PIP_CERT (not --cert): pip's build-isolation subprocess fetching setuptools must trust it too.
RUN if [ -s /opt/genoteam/build-ca.crt ]; then export PIP_CERT=/opt/genoteam/build-ca.crt; fi \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --index-url "${PIP_INDEX_URL}" --no-deps /opt/genoteam \
 && rm -rf /opt/genoteam \
 && cd / && /opt/venv/bin/genoteam --version \
 && /opt/venv/bin/python -c "from genoteam.shipped import shipped_dir; shipped_dir('guidelines'); shipped_dir('sandbox_image')"

# The server talks to the engine at /var/run/docker.sock (root: access to the socket is
# root-equivalent on the host anyway; analysis code itself runs in the hardened sandbox).
# GENOTEAM_INPUT/GENOTEAM_WORKSPACE: set them to the host paths you mount (see above).
ARG CONTEXT_HASH=unknown
LABEL org.opencontainers.image.title="genoteam MCP server" \
      genoteam.server.context-hash="${CONTEXT_HASH}"
WORKDIR /tmp
ENTRYPOINT ["genoteam"]
CMD ["serve"]
