#!/usr/bin/env bash
# Builds and tests the bridge contracts in contracts/ with the pinned tools:
# forge/anvil 1.7.1 and solc-js from npm (contracts/package-lock.json), and
# eth-account from PyPI (contracts/requirements.txt) in a venv under
# ~/.cache/outrigger/. Needs only Node.js (npm) and Python 3.
#
#   scripts/contracts.sh                     install if missing, check formatting,
#                                            build, check the committed artifacts
#                                            and the EIP-712 fixture, run every
#                                            forge test
#   scripts/contracts.sh --update-artifacts  rewrite contracts/artifacts/ and the
#                                            EIP-712 fixture from a fresh build
#   scripts/contracts.sh --gas               measure gas on anvil (3-of-4, 5-of-7,
#                                            7-of-10) and print the README table
#
# Environment:
#   FOUNDRY_PROFILE   forge profile (default: ci, bounded fuzz/invariant runs)
#   OUTRIGGER_CACHE   cache dir (default: ~/.cache/outrigger)
set -euo pipefail
cd "$(dirname "$0")/../contracts"

mode="${1:-test}"
case "$mode" in
    test|--update-artifacts|--gas) ;;
    *) echo "usage: scripts/contracts.sh [--update-artifacts|--gas]" >&2; exit 2 ;;
esac

export FOUNDRY_PROFILE="${FOUNDRY_PROFILE:-ci}"
export FOUNDRY_DISABLE_NIGHTLY_WARNING=1
cache="${OUTRIGGER_CACHE:-$HOME/.cache/outrigger}"
venv="$cache/contracts-venv"
forge="node_modules/@foundry-rs/forge-linux-amd64/bin/forge"
anvil="node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"

step() { printf '\n==> contracts: %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }
hash_of() { sha256sum "$1" | cut -d' ' -f1; }

# npm tools: reinstall when package-lock.json changed since the last install.
stamp="node_modules/.outrigger-lock-sha256"
if [ ! -x "$forge" ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(hash_of package-lock.json)" ]; then
    step "npm ci (forge, anvil, cast, solc-js)"
    npm ci --no-audit --no-fund --loglevel=error
    hash_of package-lock.json > "$stamp"
fi

# Python venv for the independent EIP-712 check.
pystamp="$venv/.outrigger-requirements-sha256"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$pystamp" ] || [ "$(cat "$pystamp")" != "$(hash_of requirements.txt)" ]; then
    step "python venv $venv (eth-account)"
    mkdir -p "$cache"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt
    hash_of requirements.txt > "$pystamp"
fi
py="$venv/bin/python"

step "forge fmt --check"
"$forge" fmt --check

step "forge build ($($forge --version | head -1), $(tools/solc --version | tail -1))"
"$forge" build

if [ "$mode" = --update-artifacts ]; then
    step "writing artifacts and the EIP-712 fixture"
    "$py" tools/artifacts.py write
    "$py" tools/eip712_fixture.py --write
    exit 0
fi

if [ "$mode" = --gas ]; then
    port=$((20000 + RANDOM % 20000))
    "$anvil" --port "$port" --silent --accounts 1 &
    anvil_pid=$!
    trap 'kill "$anvil_pid" 2>/dev/null || true' EXIT
    for _ in $(seq 50); do
        if "$forge" --version >/dev/null && node_modules/@foundry-rs/cast-linux-amd64/bin/cast chain-id --rpc-url "http://127.0.0.1:$port" >/dev/null 2>&1; then break; fi
        sleep 0.2
    done
    runs=()
    tmp="$(mktemp -d)"
    for nt in 4-3 7-5 10-7; do
        step "gas run: ${nt#*-} of ${nt%-*} relayers"
        # anvil's first dev account, funded on every anvil; not a secret
        GAS_N="${nt%-*}" GAS_T="${nt#*-}" \
        DEPLOYER_KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 \
            "$forge" script script/GasReport.s.sol --rpc-url "http://127.0.0.1:$port" --broadcast --silent
        cp "broadcast/GasReport.s.sol/31337/run-latest.json" "$tmp/$nt.json"
        runs+=("$nt:$tmp/$nt.json")
    done
    "$py" tools/gas_report.py "${runs[@]}"
    rm -rf "$tmp"
    exit 0
fi

step "committed artifacts match the sources"
"$py" tools/artifacts.py check

step "EIP-712: eth-account vs the committed fixture"
"$py" tools/eip712_fixture.py

step "forge test (profile $FOUNDRY_PROFILE)"
"$forge" test
