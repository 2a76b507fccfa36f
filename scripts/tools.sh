#!/usr/bin/env bash
# Installs the pinned third-party clients the tests drive the node with:
# web3.py, jsonschema and PyYAML (PyPI) in a virtualenv, cast and anvil (npm; anvil is the L1 of
# the bridge tests). Idempotent; quick when the pinned versions are already
# there.
#
#   ./scripts/tools.sh           install into $OUTRIGGER_TOOLS
#
# Environment:
#   OUTRIGGER_TOOLS   where (default: ~/.cache/outrigger/tools)
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS="${OUTRIGGER_TOOLS:-$HOME/.cache/outrigger/tools}"
WEB3_VERSION=8.0.0
# The JSON-RPC conformance test: the spec's schemas are JSON Schema in YAML.
JSONSCHEMA_VERSION=4.26.0
PYYAML_VERSION=6.0.3
CAST_VERSION=1.7.1
ANVIL_VERSION=1.7.1
mkdir -p "$TOOLS"

venv="$TOOLS/venv"
if ! "$venv/bin/python" -c "import web3, sys; sys.exit(web3.__version__ != '$WEB3_VERSION')" 2>/dev/null; then
    echo "installing web3.py $WEB3_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "web3==$WEB3_VERSION"
fi
if ! "$venv/bin/python" -c "
import sys, importlib.metadata as m
sys.exit(m.version('jsonschema') != '$JSONSCHEMA_VERSION' or m.version('PyYAML') != '$PYYAML_VERSION')" 2>/dev/null; then
    echo "installing jsonschema $JSONSCHEMA_VERSION and PyYAML $PYYAML_VERSION into $venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "jsonschema==$JSONSCHEMA_VERSION" "PyYAML==$PYYAML_VERSION"
fi

npm_dir="$TOOLS/npm"
cast="$npm_dir/node_modules/@foundry-rs/cast-linux-amd64/bin/cast"
if ! { [ -x "$cast" ] && [[ "$("$cast" --version 2>/dev/null)" == *"$CAST_VERSION"* ]]; }; then
    echo "installing cast $CAST_VERSION into $npm_dir"
    mkdir -p "$npm_dir"
    (cd "$npm_dir" && npm install --silent --no-audit --no-fund --prefix . "@foundry-rs/cast-linux-amd64@$CAST_VERSION" >/dev/null)
fi
anvil="$npm_dir/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
if ! { [ -x "$anvil" ] && [[ "$("$anvil" --version 2>/dev/null)" == *"$ANVIL_VERSION"* ]]; }; then
    echo "installing anvil $ANVIL_VERSION into $npm_dir"
    mkdir -p "$npm_dir"
    (cd "$npm_dir" && npm install --silent --no-audit --no-fund --prefix . "@foundry-rs/anvil-linux-amd64@$ANVIL_VERSION" >/dev/null)
fi
echo "tools ready in $TOOLS"
