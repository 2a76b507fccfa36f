"""Replays the execution-apis `tests/` fixtures against a dev node and
validates every answer against the method's result schema from the spec's
`src/`, and every error against the expected error code.

The fixtures were recorded on hive's test chain. This script builds the same
kind of chain on the node, then rewrites each request to name our chain's
things. The rule, applied in this order:

1. The genesis of our chain holds the fixture genesis' accounts (code,
   storage, balances) at the same addresses, plus the ten funded dev accounts,
   with our own chain id (1337), a 100M gas limit like the fixture's, and every
   fork active from block 0 (`prepare`).
2. Every transaction of the fixture's `chain.rlp` is replayed in a block of
   the same number: same type, recipient, value, input, gas, access list,
   but signed by dev account 0 with our chain id, nonce and fees. Blob
   transactions are skipped (this chain has no blob data layer). So our head
   is block 54 as the fixture's, and block numbers in requests stay as they are.
3. Substitutions in request parameters (also in object keys):
   - a fixture block hash -> our block hash of the same number;
   - a fixture transaction hash -> the hash of our replay of it;
   - the fixture's sender -> dev account 0; an address that a fixture
     transaction created -> the address our replay created;
   - an EIP-7702 authority of a fixture authorization -> the dev account that
     signed our replay's authorization.
   eth_simulateV1's `blockOverrides.time` is moved by the difference of the
   fixture chain's head time and ours. Anything else
   (genesis accounts, unknown hashes and addresses, numbers, tags) is sent
   as recorded.
4. `eth_sendRawTransaction`: the recorded bytes are decoded, and re-signed
   by a dev account with our chain id and its next nonce.

A result passes if it validates against the method's result schema (with
`$ref`s into `src/schemas`) and is null exactly when the recorded one is;
an error passes if its code is the recorded one. Values are not compared:
they come from another chain.

  conformance.py prepare FIXTURES_TGZ WORKDIR   unpack, write WORKDIR/genesis.json
  conformance.py run RPC_URL WORKDIR             build the chain, replay, report
"""

import json
import sys
import tarfile
import urllib.request
from collections import defaultdict
from pathlib import Path

import jsonschema
import rlp
import yaml
from eth_account import Account
from eth_hash.auto import keccak
from eth_keys import keys as eth_keys
from rlp.codec import consume_length_prefix

CHAIN_ID = 1337
MNEMONIC = "test test test test test test test test test test test junk"
DEV_BALANCE = hex(10_000 * 10**18)
FIXTURE_GAS_LIMIT = "0x5f5e100"

# Methods whose fixtures are not replayed, and why. Printed by the run.
EXCLUDED_METHODS = {
    "eth_config": "EIP-7910 reports an L1 hard-fork schedule (fork id, blob schedule, beacon/engine system contracts); Outrigger has no fork schedule and no blobs",
    "testing_buildBlockV1": "testing namespace: block building for an Engine API consensus client, which Outrigger does not have",
    "debug_getRawBlock": "debug_getRaw* is not served by this node",
    "debug_getRawHeader": "debug_getRaw* is not served by this node",
    "debug_getRawReceipts": "debug_getRaw* is not served by this node",
    "debug_getRawTransaction": "debug_getRaw* is not served by this node",
}

# Single fixtures that need a blob transaction to exist or be accepted.
EXCLUDED_CASES = {
    "eth_getTransactionReceipt/get-blob-tx.io": "the receipt of a blob transaction: this chain has no blob transactions",
    "eth_getTransactionByHash/get-blob-tx.io": "looks up a blob transaction: this chain has no blob transactions",
    "eth_sendRawTransaction/send-blob-tx.io": "sends a blob transaction: this chain rejects them (no blob data layer)",
    "eth_simulateV1/ethSimulate-blobs.io": "simulates a blob transaction: this chain refuses blob transactions (-32602)",
    "eth_estimateGas/estimate-with-eip4844.io": "estimates a blob transaction: this chain refuses blob transactions, so refuses to estimate one (-32602)",
}

# Methods another engineer is adding: while the node answers "method not
# found" they are reported as awaiting, not failed; once served, their
# answers are checked like every other.
AWAITING_METHODS = {
    "eth_createAccessList",
    "debug_traceTransaction",
    "debug_traceBlockByNumber",
    "debug_traceBlockByHash",
    "debug_traceCall",
}

METHOD_NOT_FOUND = -32601


# ---------------------------------------------------------------- plumbing


def rebase_simulated_times(params, fixture_head_time, head_time):
    """eth_simulateV1 params with each blockOverrides.time moved from the
    fixture chain's clock to ours (same distance from the head)."""
    if not params or not isinstance(params[0], dict):
        return params
    payload = dict(params[0])
    blocks = []
    for block in payload.get("blockStateCalls") or []:
        overrides = (block or {}).get("blockOverrides")
        if isinstance(overrides, dict) and "time" in overrides:
            time = int(overrides["time"], 16) - fixture_head_time + head_time
            block = {**block, "blockOverrides": {**overrides, "time": hex(max(time, 0))}}
        blocks.append(block)
    if "blockStateCalls" in payload:
        payload["blockStateCalls"] = blocks
    return [payload, *params[1:]]


class Rpc:
    def __init__(self, url):
        self.url = url
        self.next_id = 1

    def raw(self, body):
        request = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def call(self, method, params):
        self.next_id += 1
        response = self.raw(
            {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        )
        if "error" in response:
            raise RuntimeError(f"{method} {params}: {response['error']}")
        return response["result"]


def dev_keys():
    Account.enable_unaudited_hdwallet_features()
    return [
        Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}")
        for i in range(10)
    ]


def to_int(b):
    return int.from_bytes(b, "big")


def hx(b):
    return "0x" + b.hex()


def create_address(sender, nonce):
    return hx(keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[12:])


# ------------------------------------------------------ the fixture's chain


class FixtureTx:
    """One transaction of chain.rlp, decoded."""

    def __init__(self, item):
        if isinstance(item, list):
            self.type = 0
            self.raw = rlp.encode(item)
            nonce, gas_price, gas, to, value, data, v, r, s = item
            self.access_list = None
            self.authorizations = []
            unsigned = [nonce, gas_price, gas, to, value, data]
            if to_int(v) > 28:
                unsigned += [(to_int(v) - 35) // 2, b"", b""]
            self.sender = eth_keys.Signature(
                vrs=(to_int(v) - 27 if to_int(v) <= 28 else (to_int(v) - 35) % 2, to_int(r), to_int(s))
            ).recover_public_key_from_msg_hash(keccak(rlp.encode(unsigned)))
        else:
            self.type = item[0]
            self.raw = item
            fields = rlp.decode(item[1:])
            if self.type == 1:
                _, nonce, _, gas, to, value, data, access_list = fields[:8]
            else:
                _, nonce, _, _, gas, to, value, data, access_list = fields[:9]
            self.access_list = access_list
            self.authorizations = fields[9] if self.type == 4 else []
            y, r, s = fields[-3:]
            self.sender = eth_keys.Signature(
                vrs=(to_int(y), to_int(r), to_int(s))
            ).recover_public_key_from_msg_hash(keccak(item[:1] + rlp.encode(fields[:-3])))
        self.sender = self.sender.to_checksum_address().lower()
        self.hash = hx(keccak(self.raw))
        self.nonce = to_int(nonce)
        self.gas = to_int(gas)
        self.to = hx(to) if to else None
        self.value = to_int(value)
        self.data = data


def authority(auth):
    chain_id, address, nonce, y, r, s = auth
    digest = keccak(b"\x05" + rlp.encode([chain_id, address, nonce]))
    key = eth_keys.Signature(vrs=(to_int(y), to_int(r), to_int(s)))
    return key.recover_public_key_from_msg_hash(digest).to_checksum_address().lower()


def read_chain(path):
    """[(number, header_hash, parent_hash, [FixtureTx])] of chain.rlp."""
    data = Path(path).read_bytes()
    blocks, pos = [], 0
    while pos < len(data):
        _, _, length, start = consume_length_prefix(data, pos)
        block = rlp.decode(data[pos : start + length])
        pos = start + length
        header = block[0]
        blocks.append(
            (
                to_int(header[8]),
                hx(keccak(rlp.encode(header))),
                hx(header[0]),
                [FixtureTx(t) for t in block[1]],
            )
        )
    return blocks


def chain_head_time(path):
    """The timestamp of the last block of chain.rlp."""
    data = Path(path).read_bytes()
    pos, header = 0, None
    while pos < len(data):
        _, _, length, start = consume_length_prefix(data, pos)
        header = rlp.decode(data[pos : start + length])[0]
        pos = start + length
    return to_int(header[11])


# ------------------------------------------------------------------ prepare


def prepare(tgz, workdir):
    workdir = Path(workdir)
    with tarfile.open(tgz) as archive:
        archive.extractall(workdir / "execution-apis", filter="data")
    fixture = json.loads((workdir / "execution-apis/tests/genesis.json").read_text())
    alloc = {a.lower().removeprefix("0x"): v for a, v in fixture["alloc"].items()}
    for key in dev_keys():
        alloc[key.address.lower()[2:]] = {"balance": DEV_BALANCE}
    forks = [
        "homesteadBlock", "eip150Block", "eip155Block", "eip158Block", "byzantiumBlock",
        "constantinopleBlock", "petersburgBlock", "istanbulBlock", "berlinBlock", "londonBlock",
    ]
    config = {f: 0 for f in forks}
    config.update(
        chainId=CHAIN_ID,
        terminalTotalDifficulty=0,
        terminalTotalDifficultyPassed=True,
        shanghaiTime=0,
        cancunTime=0,
        pragueTime=0,
        osakaTime=0,
    )
    genesis = {
        "config": config,
        "gasLimit": FIXTURE_GAS_LIMIT,
        "baseFeePerGas": hex(10**9),
        "timestamp": "0x0",
        "extraData": "0x",
        "difficulty": "0x0",
        "alloc": alloc,
    }
    (workdir / "genesis.json").write_text(json.dumps(genesis, indent=1))
    print(f"genesis with {len(alloc)} accounts written to {workdir / 'genesis.json'}")


# ---------------------------------------------------- building our chain


class Replay:
    """Builds our chain from the fixture's and keeps the substitutions."""

    def __init__(self, rpc, keys):
        self.rpc = rpc
        self.keys = keys
        self.sender = keys[0]
        self.nonce = 0
        self.subst = {}  # fixture value (lower case) -> ours
        self.authority_keys = {}  # fixture authority -> one of our keys
        self.skipped = 0

    def map(self, value):
        return self.subst.get(value.lower(), value) if isinstance(value, str) else value

    def fees(self):
        base = int(self.rpc.call("eth_getBlockByNumber", ["pending", False])["baseFeePerGas"], 16)
        tip = int(self.rpc.call("eth_maxPriorityFeePerGas", []), 16)
        return 2 * base + tip, tip

    def sign(self, tx, fixture_tx, max_fee, tip, key=None, nonce=None):
        """Signs our version of `fixture_tx` (its type, payload and gas)."""
        key = key or self.sender
        body = {
            "chainId": CHAIN_ID,
            "nonce": self.nonce if nonce is None else nonce,
            "gas": fixture_tx.gas,
            "value": fixture_tx.value,
            "data": hx(fixture_tx.data),
        }
        if fixture_tx.to is not None:
            body["to"] = self.checksum(self.map(fixture_tx.to))
        elif fixture_tx.type == 4:
            body["to"] = self.checksum("0x" + "00" * 20)
        if fixture_tx.type in (0, 1):
            body["gasPrice"] = max_fee
        else:
            body["maxFeePerGas"] = max_fee
            body["maxPriorityFeePerGas"] = tip
        if fixture_tx.type in (1, 2, 4):
            body["accessList"] = [
                {
                    "address": self.checksum(self.map(hx(entry[0]))),
                    "storageKeys": [hx(k) for k in entry[1]],
                }
                for entry in fixture_tx.access_list
            ]
        if fixture_tx.type == 1:
            body["type"] = 1
        if fixture_tx.type == 4:
            body["authorizationList"] = [self.authorization(a) for a in fixture_tx.authorizations]
        tx.update(body)
        return key.sign_transaction(tx)

    @staticmethod
    def checksum(address):
        from eth_utils import to_checksum_address

        return to_checksum_address(address)

    def authorization(self, auth):
        """Our authorization for a fixture one: signed by a dev account
        (from the last one down), delegating to our copy of its target."""
        fixture_authority = authority(auth)
        if fixture_authority not in self.authority_keys:
            key = self.keys[9 - len(self.authority_keys)]
            self.authority_keys[fixture_authority] = key
            self.subst[fixture_authority] = key.address.lower()
        key = self.authority_keys[fixture_authority]
        nonce = int(self.rpc.call("eth_getTransactionCount", [key.address, "pending"]), 16)
        signed = key.sign_authorization(
            {
                "chainId": CHAIN_ID if to_int(auth[0]) else 0,
                "address": self.checksum(self.map(hx(auth[1]))),
                "nonce": nonce,
            }
        )
        return signed

    def build(self, blocks):
        genesis = self.rpc.call("eth_getBlockByNumber", ["0x0", False])
        self.subst[blocks[0][2].lower()] = genesis["hash"]
        for number, fixture_hash, _, txs in blocks:
            max_fee, tip = self.fees()
            sent = 0
            for tx in txs:
                if tx.type == 3:
                    self.skipped += 1
                    continue
                self.subst.setdefault(tx.sender, self.sender.address.lower())
                if tx.to is None:
                    self.subst[create_address(tx.sender, tx.nonce)] = create_address(
                        self.sender.address.lower(), self.nonce
                    )
                signed = self.sign({}, tx, max_fee, tip)
                ours = self.rpc.call("eth_sendRawTransaction", [hx(signed.raw_transaction)])
                self.subst[tx.hash] = ours
                self.nonce += 1
                sent += 1
            self.rpc.call("evm_mine", [])
            block = self.rpc.call("eth_getBlockByNumber", [hex(number), False])
            if block is None or len(block["transactions"]) != sent:
                raise RuntimeError(f"block {number}: sent {sent} transactions, sealed {block}")
            self.subst[fixture_hash.lower()] = block["hash"]
        head = int(self.rpc.call("eth_blockNumber", []), 16)
        if head != blocks[-1][0]:
            raise RuntimeError(f"head is {head}, the fixture's is {blocks[-1][0]}")

    def substitute(self, value):
        if isinstance(value, str):
            return self.map(value)
        if isinstance(value, list):
            return [self.substitute(v) for v in value]
        if isinstance(value, dict):
            return {self.map(k): self.substitute(v) for k, v in value.items()}
        return value

    def resign_raw(self, raw, key):
        """A recorded raw transaction, signed again by `key` for our chain."""
        data = bytes.fromhex(raw[2:])
        item = rlp.decode(data) if data[0] >= 0xC0 else data
        tx = FixtureTx(item)
        nonce = int(self.rpc.call("eth_getTransactionCount", [key.address, "pending"]), 16)
        max_fee, tip = self.fees()
        return hx(self.sign({}, tx, max_fee, tip, key=key, nonce=nonce).raw_transaction)


# --------------------------------------------------------------- the spec


def load_spec(src):
    schemas = {}
    for path in sorted((src / "schemas").glob("*.yaml")):
        schemas.update(yaml.safe_load(path.read_text()))
    methods = {}
    for path in sorted(src.glob("*/*.yaml")):
        if path.parent.name in ("schemas", "error-groups"):
            continue
        for method in yaml.safe_load(path.read_text()) or []:
            if isinstance(method, dict) and "name" in method:
                methods[method["name"]] = method
    return methods, schemas


def validator(method, schemas):
    schema = dict(method["result"]["schema"])
    schema["components"] = {"schemas": schemas}
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema)


def read_case(path):
    """[(request, expected response)] of one .io file."""
    requests, responses = [], []
    for line in path.read_text().splitlines():
        if line.startswith(">> "):
            requests.append(json.loads(line[3:]))
        elif line.startswith("<< "):
            responses.append(json.loads(line[3:]))
    assert len(requests) == len(responses), path
    return list(zip(requests, responses))


def judge(method, response, expected, validators):
    """None if `response` conforms, else why not."""
    if "error" in expected:
        if "error" not in response:
            return f"expected error {expected['error']['code']}, got result {str(response.get('result'))[:200]}"
        if response["error"].get("code") != expected["error"]["code"]:
            return f"expected error code {expected['error']['code']} ({expected['error']['message']!r}), got {response['error']}"
        return None
    if "error" in response:
        return f"expected a result, got error {response['error']}"
    if "result" not in response:
        return f"no result in {response}"
    result = response["result"]
    if (result is None) != (expected["result"] is None):
        return f"expected {'null' if expected['result'] is None else 'a value'}, got {str(result)[:200]}"
    errors = sorted(validators[method].iter_errors(result), key=lambda e: list(e.absolute_path))
    if errors:
        worst = errors[0]
        where = "/".join(str(p) for p in worst.absolute_path)
        return f"schema: at /{where}: {worst.message[:300]}"
    return None


def run(url, workdir):
    workdir = Path(workdir)
    root = workdir / "execution-apis"
    methods, schemas = load_spec(root / "src")
    rpc = Rpc(url)
    keys = dev_keys()
    replay = Replay(rpc, keys)
    blocks = read_chain(root / "tests/chain.rlp")
    replay.build(blocks)
    print(
        f"chain built: {len(blocks)} blocks, {sum(len(b[3]) for b in blocks) - replay.skipped} "
        f"transactions replayed, {replay.skipped} blob transactions skipped"
    )

    # Our blocks carry wall-clock times, the fixture chain's its own:
    # eth_simulateV1's absolute block times are moved by the difference of
    # the heads, keeping their spacing.
    fixture_head_time = chain_head_time(root / "tests/chain.rlp")
    head_time = int(rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    validators = {}
    counts = defaultdict(lambda: {"pass": 0, "fail": 0, "awaiting": 0})
    failures, excluded_cases = [], []
    # Dev accounts 1.. re-sign recorded raw transactions, one each.
    raw_keys = iter(keys[1:8])
    for method_dir in sorted(p for p in (root / "tests").iterdir() if p.is_dir()):
        method = method_dir.name
        if method in EXCLUDED_METHODS:
            continue
        for path in sorted(method_dir.glob("*.io")):
            case = f"{method}/{path.name}"
            if case in EXCLUDED_CASES:
                excluded_cases.append(case)
                continue
            verdict, awaiting = None, False
            for request, expected in read_case(path):
                name = request["method"]
                if name not in methods:
                    verdict = f"{name} is not in the spec's src/"
                    break
                if name not in validators:
                    validators[name] = validator(methods[name], schemas)
                params = replay.substitute(request.get("params", []))
                if name == "eth_simulateV1":
                    params = rebase_simulated_times(params, fixture_head_time, head_time)
                if name == "eth_sendRawTransaction":
                    params = [replay.resign_raw(params[0], next(raw_keys))]
                response = rpc.raw({**request, "params": params})
                if (
                    name in AWAITING_METHODS
                    and response.get("error", {}).get("code") == METHOD_NOT_FOUND
                ):
                    awaiting = True
                    break
                verdict = judge(name, response, expected, validators)
                if verdict:
                    verdict = f"{name} {json.dumps(params)[:300]}: {verdict}"
                    break
            if awaiting:
                counts[method]["awaiting"] += 1
            elif verdict:
                counts[method]["fail"] += 1
                failures.append((case, verdict))
            else:
                counts[method]["pass"] += 1

    print(f"\n{'method':45} pass fail awaiting")
    for method in sorted(counts):
        c = counts[method]
        print(f"{method:45} {c['pass']:4} {c['fail']:4} {c['awaiting']:8}")
    total = {k: sum(c[k] for c in counts.values()) for k in ("pass", "fail", "awaiting")}
    print(f"{'total':45} {total['pass']:4} {total['fail']:4} {total['awaiting']:8}")
    print("\nexcluded methods:")
    for method, reason in sorted(EXCLUDED_METHODS.items()):
        n = len(list((root / "tests" / method).glob("*.io")))
        print(f"  {method} ({n} fixtures): {reason}")
    print("excluded fixtures:")
    for case in excluded_cases:
        print(f"  {case}: {EXCLUDED_CASES[case]}")
    if total["awaiting"]:
        print("awaiting (method not found yet, being added on another branch):")
        for method in sorted(m for m, c in counts.items() if c["awaiting"]):
            print(f"  {method}: {counts[method]['awaiting']} fixtures")
    if failures:
        print("\nfailures:")
        for case, why in failures:
            print(f"  {case}: {why}")
        sys.exit(1)
    print("\nconformance passed")


if __name__ == "__main__":
    if sys.argv[1:2] == ["prepare"] and len(sys.argv) == 4:
        prepare(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["run"] and len(sys.argv) == 4:
        run(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
