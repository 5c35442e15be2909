# Helpers shared by the setup steps (sourced, not run).
step_skip() { echo "   skipped: $*"; }
step_do() { echo "   doing: $*"; }
# apt_need PKG...: install the Debian packages that are not installed yet.
apt_need() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    step_skip "Debian packages already installed: $*"
    return 0
  fi
  step_do "apt-get install ${missing[*]}"
  if [ ! -f /tmp/.genoteam-apt-updated ]; then
    apt-get -o DPkg::Lock::Timeout=900 update -qq && touch /tmp/.genoteam-apt-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}" >/tmp/genoteam-apt.log 2>&1 \
    || { tail -n 30 /tmp/genoteam-apt.log; echo "apt-get install failed: ${missing[*]}" >&2; return 1; }
}
