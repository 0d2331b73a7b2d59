#!/usr/bin/env bash
# One venv per real third-party MCP server of ../shared/MCP_SERVERS.md, with pinned versions.
#
#   tests/generators/views/install_servers.sh            # every server below
#   tests/generators/views/install_servers.sh gnomon-mcp # only the ones named
#
# Each server needs its own venv: most pin mcp<2, backchain's venv has mcp 2.x. The venvs live
# under $BACKCHAIN_MCP_SERVERS (default ~/.cache/backchain/mcp-servers/<package>), outside the
# repository, and are reused by every clone. Idempotent: a venv whose marker file records the same
# install line is skipped; a changed pin reinstalls that venv from scratch.
set -euo pipefail

ROOT="${BACKCHAIN_MCP_SERVERS:-$HOME/.cache/backchain/mcp-servers}"
PYTHON="${PYTHON:-python3}"

# package|pip install arguments (the install line of MCP_SERVERS.md, pinned to what it resolved to)
SERVERS=(
  "mcp-server-time|mcp-server-time==2026.10.19 mcp==2.3.0"
  "mcp-server-bmi-calculator|mcp-server-bmi-calculator==0.2.2 mcp==1.30.0"
  "mcp-server-duckdb|mcp-server-duckdb==1.1.0 mcp==1.30.0"
  "mcp-server-spreadsheet|mcp-server-spreadsheet==0.3.3 mcp==1.28.0"
  "mcp-server-motherduck|mcp-server-motherduck==1.1.0 mcp==2.3.0"
  "eggcalc|eggcalc==1.1.11"
  "nwtools-mcp|nwtools-mcp==0.2.0 mcp==1.30.0"
  "calcnook-mcp|calcnook-mcp==0.1.0 mcp==1.30.0"
  "gnomon-mcp|gnomon-mcp==0.1.2 mcp==1.30.0"
  "emojifyi|emojifyi[mcp]==0.2.3 mcp==1.30.0"
  "fakedata-mcp|fakedata-mcp==0.1.1 mcp==1.30.0"
  "mcpzoo-prime|mcpzoo-prime==0.1.0 mcp==1.30.0"
  "electronics-mcp-servers|electronics-mcp-servers==1.0.2 mcp==1.30.0"
  "alevlas-random-mcp|alevlas-random-mcp==0.1.1 mcp==1.30.0"
  "mcp-dice-roller|mcp-dice-roller==0.1.0 mcp==1.30.0"
)

wanted() {  # is package $1 among the names given on the command line (or were none given)?
  [ "$#" -eq 1 ] && return 0
  local name=$1; shift
  for arg in "$@"; do [ "$arg" = "$name" ] && return 0; done
  return 1
}

mkdir -p "$ROOT"
start=$(date +%s)
failed=()
for entry in "${SERVERS[@]}"; do
  package=${entry%%|*}
  line=${entry#*|}
  wanted "$package" "$@" || continue
  dir="$ROOT/$package"
  marker="$dir/.backchain-installed"
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$line" ]; then
    echo "ok       $package ($line)"
    continue
  fi
  echo "install  $package ($line)"
  rm -rf "$dir"
  # shellcheck disable=SC2086  # the install line is a list of requirement specs
  # (pip's warnings about this machine's local index folders are noise, filtered out)
  if "$PYTHON" -m venv "$dir" && "$dir/bin/python" -m pip install -q --disable-pip-version-check $line \
      2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); then
    echo "$line" >"$marker"
  else
    echo "FAILED   $package: pip install $line" >&2
    failed+=("$package")
  fi
done
echo "done in $(( $(date +%s) - start ))s: $ROOT"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
