#!/bin/sh
# One-shot setup of the docker-compose devnet (the `init` service, in the
# outrigger image): a genesis with 4 validators and their keys, each
# validator's data dir and node.toml, and each relayer's relayer.toml.
# Running it again changes nothing that exists (the chain continues).
#
# Layout written under $DATA (the `devnet` volume):
#   genesis.json, validators.txt           from `outrigger genesis new`
#   node{i}/  validator.key p2p.key node.toml genesis.json db/ consensus/
#   relayer{i}/relayer.toml, relayer.pass  (keystores: deploy-bridge.sh)
#
# The addresses below are deterministic: the bridges are deployed by the
# test mnemonic's account 0 from nonce 0 on a fresh anvil and a fresh
# sidechain (deploy-bridge.sh checks that they match).
set -eu

DATA=${DATA:-/data}
OUTRIGGER=${OUTRIGGER:-outrigger}
# Validator i is at the i-th address (docker-compose.yml pins them: the
# p2p layer dials /ip4 multiaddrs, not host names).
VALIDATOR_IPS=${VALIDATOR_IPS:-"172.28.0.10 172.28.0.11 172.28.0.12 172.28.0.13"}
# Address the node and relayer listeners bind to: 0.0.0.0 in containers;
# "self" binds each to its own IP (to run this on one host, on 127.0.0.x).
BIND=${BIND:-0.0.0.0}
L1_RPC=${L1_RPC:-http://172.28.0.2:8545}
L1_CHAIN_ID=31337
SIDECHAIN_CHAIN_ID=1337
BLOCK_TIME_MS=${BLOCK_TIME_MS:-1000}
# Contracts (see deploy-bridge.sh).
L1_TOKEN=0x5FbDB2315678afecb367f032d93F642f64180aa3
L1_BRIDGE=0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512
SIDECHAIN_BRIDGE=0x5FbDB2315678afecb367f032d93F642f64180aa3
# The SidechainBridge's native coin at genesis: 1e9 ETH (paid out for ETH
# deposits; native coin outside the bridge counts as bridged ETH).
NATIVE_SUPPLY=1000000000000000000000000000
NATIVE_SUPPLY_HEX=0x33b2e3c9fd0803ce8000000
# Relayer keystores' password: a devnet, not a secret.
PASSWORD=devnet

bind_addr() { # $1 = the node's own IP
    if [ "$BIND" = self ]; then echo "$1"; else echo "$BIND"; fi
}

if [ ! -f "$DATA/genesis.json" ]; then
    mkdir -p "$DATA"
    "$OUTRIGGER" genesis new --validators 4 --out "$DATA" --chain-id "$SIDECHAIN_CHAIN_ID" \
        > "$DATA/validators.txt.tmp"
    # The bridge's native supply joins the alloc of the ten test accounts.
    sed -i "s/^  \"alloc\": {\$/  \"alloc\": {\n    \"$SIDECHAIN_BRIDGE\": { \"balance\": \"$NATIVE_SUPPLY_HEX\" },/" \
        "$DATA/genesis.json"
    grep -q "$SIDECHAIN_BRIDGE" "$DATA/genesis.json" || { echo "could not add the bridge to the genesis alloc" >&2; exit 1; }
    mv "$DATA/validators.txt.tmp" "$DATA/validators.txt"
fi
cat "$DATA/validators.txt"

# "validator 0: DIR public key 0x.. peer id 12D3.." -> the peer ids in order.
PEER_IDS=$(sed -n 's/.* peer id \([1-9A-HJ-NP-Za-km-z]*\)$/\1/p' "$DATA/validators.txt")
set -- $VALIDATOR_IPS
[ "$(echo "$PEER_IDS" | wc -l)" -eq 4 ] && [ $# -eq 4 ] || { echo "expected 4 validators and 4 IPs" >&2; exit 1; }

i=0
for ip in $VALIDATOR_IPS; do
    dir="$DATA/node$i"
    "$OUTRIGGER" init --genesis "$DATA/genesis.json" --data-dir "$dir"
    bootnodes=""
    j=0
    for peer_ip in $VALIDATOR_IPS; do
        peer_id=$(echo "$PEER_IDS" | sed -n "$((j + 1))p")
        if [ "$j" -ne "$i" ]; then
            bootnodes="$bootnodes\"/ip4/$peer_ip/tcp/30333/p2p/$peer_id\", "
        fi
        j=$((j + 1))
    done
    bind=$(bind_addr "$ip")
    cat > "$dir/node.toml" <<EOF
# Validator $i of the docker-compose devnet (written by deploy/devnet/init.sh).
# Every key: deploy/node.example.toml.
data_dir = "$dir"

[block]
time_ms = $BLOCK_TIME_MS

[rpc]
addr = "$bind:8545"

[metrics]
addr = "$bind:9615"

[log]
format = "json"

[consensus]
role = "validator"

[p2p]
listen = ["/ip4/$bind/tcp/30333"]
bootnodes = [${bootnodes%, }]
EOF
    i=$((i + 1))
done

# Relayer i reads validator i's RPC, the next validator's as failover.
umask 077
printf '%s\n' "$PASSWORD" > "$DATA/relayer.pass"
set -- $VALIDATOR_IPS
i=0
for ip in "$@"; do
    dir="$DATA/relayer$i"
    mkdir -p "$dir"
    next=$(echo "$VALIDATOR_IPS" | tr ' ' '\n' | sed -n "$(( (i + 1) % 4 + 1 ))p")
    cat > "$dir/relayer.toml" <<EOF
# Relayer $i of the docker-compose devnet (written by deploy/devnet/init.sh).
# Every key: deploy/relayer.example.toml.
data_dir = "data"
keystore = "keystore.json"
password_file = "../relayer.pass"
metrics_addr = "$(bind_addr "127.0.0.$((20 + i))"):9616"
solvency_tokens = ["$L1_TOKEN"]
sidechain_native_supply = "$NATIVE_SUPPLY"

[l1]
rpc_urls = ["$L1_RPC"]
chain_id = $L1_CHAIN_ID
bridge = "$L1_BRIDGE"
start_block = 0
# anvil runs with --slots-in-an-epoch 1: its finalized tag trails the head by 2.
finality = "finalized"

[sidechain]
rpc_urls = ["http://$ip:8545", "http://$next:8545"]
chain_id = $SIDECHAIN_CHAIN_ID
bridge = "$SIDECHAIN_BRIDGE"
start_block = 0
EOF
    i=$((i + 1))
done
echo "devnet initialised in $DATA"
