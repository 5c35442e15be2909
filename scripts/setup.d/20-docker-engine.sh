#!/usr/bin/env bash
# The Docker engine the sandbox runs on: install it when missing, start dockerd in the
# background (as root) when no engine answers, and wait until it does.
# Why here: CI starts on a fresh machine with no running engine; the sandbox tests must not skip there.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

log_file="${GENOTEAM_DOCKERD_LOG:-/var/log/genoteam-dockerd.log}"
wait_s="${GENOTEAM_DOCKERD_WAIT_S:-90}"

if ! command -v docker >/dev/null 2>&1 || ! command -v dockerd >/dev/null 2>&1; then
  apt_need docker.io
else
  step_skip "docker client and dockerd already installed ($(command -v dockerd))"
fi

if docker info >/dev/null 2>&1; then
  step_skip "a Docker engine already answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "no Docker engine answers and this user is not root, so dockerd cannot be started here;" >&2
  echo "start the engine yourself (e.g. 'sudo systemctl start docker') and run setup again" >&2
  exit 1
fi

step_do "start dockerd in the background (log: $log_file)"
mkdir -p "$(dirname "$log_file")"
# setsid + nohup: the engine must outlive this setup script and the test run's process group.
setsid nohup dockerd >>"$log_file" 2>&1 </dev/null &
dockerd_pid=$!

for _ in $(seq 1 "$wait_s"); do
  if docker info >/dev/null 2>&1; then
    echo "   dockerd (pid $dockerd_pid) answers: $(docker version --format '{{.Server.Version}}')"
    exit 0
  fi
  if ! kill -0 "$dockerd_pid" 2>/dev/null; then
    echo "dockerd exited during start-up; the last lines of $log_file:" >&2
    tail -n 30 "$log_file" >&2
    exit 1
  fi
  sleep 1
done
echo "dockerd did not answer within ${wait_s}s; the last lines of $log_file:" >&2
tail -n 30 "$log_file" >&2
exit 1
