#!/bin/sh
# One-shot bridge deployment of the docker-compose devnet (the
# `deploy-bridge` service, in Foundry's image: sh and cast). Idempotent:
# what is deployed already is left alone.
#
# - the relayers' keystores: the test mnemonic's accounts 6..9 (funded on
#   anvil and in the sidechain genesis), password in $DATA/relayer.pass;
# - on L1 (anvil), from account 0: a test ERC20 "TEST" (nonce 0), the
#   L1Bridge (nonce 1), its initialize (nonce 2);
# - on the sidechain, from account 0: the SidechainBridge (nonce 0, the
#   address whose native supply init.sh put in the genesis), its initialize;
# - both initialised with the 4 relayers and a threshold of 3.
set -eu

DATA=${DATA:-/data}
ARTIFACTS=${ARTIFACTS:-/contracts}
TOKEN_ARTIFACT=${TOKEN_ARTIFACT:-$ARTIFACTS/MockERC20.json}
CAST=${CAST:-cast}
L1_RPC=${L1_RPC:-http://172.28.0.2:8545}
SIDECHAIN_RPC=${SIDECHAIN_RPC:-http://172.28.0.10:8545}
L1_CHAIN_ID=31337
SIDECHAIN_CHAIN_ID=1337
MNEMONIC="test test test test test test test test test test test junk"
L1_TOKEN=0x5FbDB2315678afecb367f032d93F642f64180aa3
L1_BRIDGE=0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512
SIDECHAIN_BRIDGE=0x5FbDB2315678afecb367f032d93F642f64180aa3
# Sorted by address, as the bridges keep them.
RELAYERS="[0x14dC79964da2C08b23698B3D3cc7Ca32193d9955,0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f,0x976EA74026E726554dB657fA54763abd0C3a0aa9,0xa0Ee7A142d267C1f36714E4a8F75612F20a79720]"
THRESHOLD=3
GOVERNANCE=0x70997970C51812dc3A010C7d01b50e0d17dc79C8 # account 1
GUARDIAN=0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC   # account 2

deployer_key=$("$CAST" wallet private-key "$MNEMONIC" 0)

wait_rpc() { # $1 = URL
    n=0
    until "$CAST" chain-id --rpc-url "$1" >/dev/null 2>&1; do
        n=$((n + 1))
        [ "$n" -lt 120 ] || { echo "$1 did not answer within 120 s" >&2; exit 1; }
        sleep 1
    done
}

bytecode() { # $1 = artifact JSON with "bytecode": "0x.." on one line
    sed -n 's/.*"bytecode": *"\(0x[0-9a-fA-F]*\)".*/\1/p' "$1"
}

has_code() { # $1 = URL, $2 = address
    [ "$("$CAST" code --rpc-url "$1" "$2")" != 0x ]
}

create() { # $1 = URL, $2 = expected address, then the code and constructor
    url=$1 expected=$2
    shift 2
    if has_code "$url" "$expected"; then
        echo "$expected: deployed already"
        return
    fi
    "$CAST" send --rpc-url "$url" --private-key "$deployer_key" --create "$@" >/dev/null
    has_code "$url" "$expected" || { echo "expected a contract at $expected; was $url fresh?" >&2; exit 1; }
    echo "$expected: deployed"
}

initialize() { # $1 = URL, $2 = bridge, $3 = remote chain id, $4 = remote bridge, $5 = token listings
    if [ "$("$CAST" call --rpc-url "$1" "$2" 'initialized()(bool)')" = true ]; then
        echo "$2: initialised already"
        return
    fi
    "$CAST" send --rpc-url "$1" --private-key "$deployer_key" "$2" \
        'initialize((address,address,uint256,uint256,uint256,address,address[],uint256,(address,bool,(bool,uint256,uint256,uint256,uint256),(string,string,uint8))[]))' \
        "($GOVERNANCE,$GUARDIAN,3600,600,$3,$4,$RELAYERS,$THRESHOLD,$5)" >/dev/null
    echo "$2: initialised"
}

# Keystores first: the relayers wait for them.
password=$(cat "$DATA/relayer.pass")
for i in 0 1 2 3; do
    keystore="$DATA/relayer$i/keystore.json"
    if [ ! -f "$keystore" ]; then
        "$CAST" wallet import "relayer$i" --keystore-dir "$DATA/relayer$i" \
            --private-key "$("$CAST" wallet private-key "$MNEMONIC" $((6 + i)))" \
            --unsafe-password "$password" >/dev/null
        mv "$DATA/relayer$i/relayer$i" "$keystore"
        chmod 600 "$keystore"
    fi
    echo "relayer $i: $("$CAST" wallet address --keystore "$keystore" --password "$password")"
done

# min 1 wei, max 1e6, daily 1e8, delayed from 1e6 (units of 18 decimals).
rails="(true,1,1000000000000000000000000,100000000000000000000000000,1000000000000000000000000)"
listings="[(0x0000000000000000000000000000000000000000,true,$rails,(\"\",\"\",18)),($L1_TOKEN,true,$rails,(\"Test Token\",\"TEST\",18))]"

wait_rpc "$L1_RPC"
create "$L1_RPC" "$L1_TOKEN" "$(bytecode "$TOKEN_ARTIFACT")" 'constructor(string,string)' "Test Token" TEST
create "$L1_RPC" "$L1_BRIDGE" "$(bytecode "$ARTIFACTS/L1Bridge.json")"
initialize "$L1_RPC" "$L1_BRIDGE" "$SIDECHAIN_CHAIN_ID" "$SIDECHAIN_BRIDGE" "$listings"

wait_rpc "$SIDECHAIN_RPC"
create "$SIDECHAIN_RPC" "$SIDECHAIN_BRIDGE" "$(bytecode "$ARTIFACTS/SidechainBridge.json")"
initialize "$SIDECHAIN_RPC" "$SIDECHAIN_BRIDGE" "$L1_CHAIN_ID" "$L1_BRIDGE" "$listings"
echo "bridges ready: L1 $L1_BRIDGE (chain $L1_CHAIN_ID), sidechain $SIDECHAIN_BRIDGE (chain $SIDECHAIN_CHAIN_ID), TEST token $L1_TOKEN"
