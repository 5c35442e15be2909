#!/usr/bin/env bash
# The real MCP clients the server tests drive, each isolated from genoteam's own Python:
#   .venvs/mcp1    the legacy `mcp` 1.x SDK (clients still on the 2024/2025 protocol)
#   .venvs/biomni  Biomni 0.0.8 from PyPI (its A1.add_mcp runs on mcp 1.x)
#   .venvs/node22  Node 22 (npm package node@22) and @modelcontextprotocol/inspector
# Each step is skipped, with a message, when its result is already there (CI caches .venvs/).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$GENOTEAM_ROOT"
mkdir -p .venvs

MCP1_SPEC="${GENOTEAM_MCP1_SPEC:-mcp>=1.9,<2}"
BIOMNI_SPEC="${GENOTEAM_BIOMNI_SPEC:-biomni==0.0.8}"
INSPECTOR_SPEC="${GENOTEAM_INSPECTOR_SPEC:-@modelcontextprotocol/inspector}"

# make_venv DIR PROBE SPEC...: create DIR and pip-install SPEC unless PROBE already succeeds in it.
make_venv() {
  local dir="$1" probe="$2"
  shift 2
  if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c "$probe" >/dev/null 2>&1; then
    step_skip "$dir already has: $* ($("$dir/bin/python" -c "$probe" 2>/dev/null))"
    return 0
  fi
  step_do "create $dir and pip install $*"
  python3 -m venv "$dir"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
  "$dir/bin/python" -c "$probe" || { echo "install into $dir failed: $*" >&2; return 1; }
}

make_venv .venvs/mcp1 "import importlib.metadata as m; v=m.version('mcp'); assert v.startswith('1.'); print('mcp', v)" "$MCP1_SPEC"

# The biomni 0.0.8 wheel declares only pydantic, langchain and python-dotenv, but its A1 agent
# (and A1.add_mcp) import more: these are the packages `import biomni.agent` and add_mcp need.
# Its optional heavy tool dependencies (torch, scanpy, ...) are not needed to add MCP tools.
BIOMNI_EXTRA=(pandas requests tqdm "langchain-core<2" "langchain-openai<2" "langgraph<2" nest_asyncio pyyaml)
make_venv .venvs/biomni "import importlib.metadata as m; import biomni.agent, nest_asyncio, yaml; v=m.version('mcp'); assert v.startswith('1.'); print('biomni', m.version('biomni'), 'mcp', v)" \
  "$BIOMNI_SPEC" "$MCP1_SPEC" "${BIOMNI_EXTRA[@]}"

node22=.venvs/node22
if [ -x "$node22/node_modules/.bin/node" ] && "$node22/node_modules/.bin/node" --version | grep -q '^v22\.' \
  && [ -x "$node22/node_modules/.bin/mcp-inspector" ]; then
  step_skip "$node22 already has node $("$node22/node_modules/.bin/node" --version) and $INSPECTOR_SPEC"
else
  if ! command -v npm >/dev/null 2>&1; then
    apt_need npm
  fi
  step_do "npm install node@22 $INSPECTOR_SPEC into $node22"
  mkdir -p "$node22"
  [ -f "$node22/package.json" ] || echo '{"name":"genoteam-mcp-clients","private":true}' >"$node22/package.json"
  npm install --prefix "$node22" --no-audit --no-fund --loglevel=error "node@22" "$INSPECTOR_SPEC" 2>&1 \
    | grep -v 'Unknown user config' || true
  "$node22/node_modules/.bin/node" --version | grep -q '^v22\.' || { echo "node 22 did not install into $node22" >&2; exit 1; }
  [ -x "$node22/node_modules/.bin/mcp-inspector" ] || { echo "the MCP Inspector did not install into $node22" >&2; exit 1; }
fi

# The server image the `docker run -i` test drives: built from the current sources on the local
# sandbox base (40-sandbox-image.sh), never pulled; skipped when its content-hash tag exists.
if docker info >/dev/null 2>&1; then
  python3 -c "
import docker
from genoteam.server.image import build_server_image
build_server_image(docker.from_env(timeout=1800), progress=lambda line: print('   ' + line) if not line.startswith(' ') else None)
" || { echo "building the server image failed" >&2; exit 1; }
else
  step_skip "server image: no Docker engine answers (the image test skips, or fails in CI)"
fi
