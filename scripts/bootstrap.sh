#!/usr/bin/env bash
# Set-up shared by both README commands: a virtualenv with mlinfra installed, a Docker engine,
# the Terraform provider mirror and the base image. Idempotent; about a second when all is there.
# Sourced by bin/mlinfra and bin/task; exports what they need.
set -euo pipefail

MLINFRA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$MLINFRA_ROOT/.venv"
STATE="$MLINFRA_ROOT/.mlinfra"
mkdir -p "$STATE"

die() { echo "mlinfra setup: $*" >&2; exit 1; }

command -v terraform >/dev/null 2>&1 \
  || die "terraform is not installed; install Terraform >= 1.10 (https://developer.hashicorp.com/terraform/install) and retry."
PYTHON="${MLINFRA_PYTHON:-python3}"
command -v "$PYTHON" >/dev/null 2>&1 || die "python3 is not installed; install Python >= 3.11 and retry."
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "$("$PYTHON" --version 2>&1) is too old; install Python >= 3.11 (or set MLINFRA_PYTHON) and retry."

# Reinstall only when the dependency list changed.
stamp="$STATE/venv.stamp"
# One install at a time when several shells set up at once.
exec 9>"$STATE/venv.lock"
flock 9 2>/dev/null || true
want="$(cat "$MLINFRA_ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
if [ ! -x "$VENV/bin/mlinfra" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "mlinfra setup: installing mlinfra and its dependencies into .venv (once)" >&2
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV" >/dev/null 2>&1 \
    || die "could not create a virtualenv; install python3-venv and retry."
  "$VENV/bin/python" -m pip install -q --upgrade pip >"$STATE/pip.log" 2>&1 || true
  if ! "$VENV/bin/python" -m pip install -q -e "$MLINFRA_ROOT[dev]" >>"$STATE/pip.log" 2>&1; then
    tail -n 15 "$STATE/pip.log" >&2
    die "pip could not install mlinfra (above, full log in .mlinfra/pip.log); check access to the package index and retry."
  fi
  echo "$want" > "$stamp"
fi
exec 9>&-

"$VENV/bin/python" -m mlinfra.bootstrap

export PATH="$VENV/bin:$PATH"
export TF_CLI_CONFIG_FILE="$STATE/terraformrc"
export TESTCONTAINERS_RYUK_DISABLED="${TESTCONTAINERS_RYUK_DISABLED:-true}"
export MLINFRA_ROOT
