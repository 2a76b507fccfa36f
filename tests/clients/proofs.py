"""Checks `eth_getProof` answers with a Merkle-Patricia proof verifier
written here from the Yellow Paper (appendix D), sharing no code with the
node: only `rlp` and `eth_hash` (keccak) from PyPI.

Against the stateRoot of the block from `eth_getBlockByNumber`, at the head
and at past blocks (which the node rebuilds from its history): account proofs of a contract with storage, an EOA
with a nonce, and an account that does not exist (an exclusion proof);
storage proofs of set slots and of an unset one (exclusion). A tampered
proof must be rejected, so the verifier is seen to verify.

  proofs.py RPC_URL
"""

import json
import sys
import urllib.request

import rlp
from eth_account import Account
from eth_hash.auto import keccak

MNEMONIC = "test test test test test test test test test test test junk"
EMPTY_ROOT = keccak(rlp.encode(b""))
EMPTY_CODE = keccak(b"")

# Init code that stores three slots and deploys a runtime that stores its
# first calldata word in slot 0 (`sstore(0, calldataload(0))`):
#   sstore(0, 0x2a); sstore(1, 0x0102); sstore(BIG_SLOT, BIG_VALUE);
#   mstore(0, RUNTIME); return(26, 6)
RUNTIME = bytes.fromhex("600035600055")
BIG_SLOT = bytes.fromhex("ab" * 32)
BIG_VALUE = bytes.fromhex("00" * 16 + "ff" * 16)
INIT_CODE = (
    bytes.fromhex("602a600055")
    + bytes.fromhex("610102600155")
    + b"\x7f" + BIG_VALUE + b"\x7f" + BIG_SLOT + b"\x55"
    + b"\x65" + RUNTIME + bytes.fromhex("600052")
    + bytes.fromhex("6006601af3")
)


class ProofError(Exception):
    pass


def rpc(url, method, params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def nibbles(data):
    out = []
    for byte in data:
        out += [byte >> 4, byte & 0x0F]
    return out


def hex_prefix(encoded):
    """(nibbles, is_leaf) of a hex-prefix encoded path."""
    flag = encoded[0] >> 4
    path = nibbles(encoded)
    return (path[1:] if flag & 1 else path[2:]), flag >= 2


def verify(root, key, proof):
    """The value stored under keccak(key) in the trie of `root`, or None if
    the proof shows there is none. Raises ProofError if the proof does not
    prove either."""
    if root == EMPTY_ROOT:
        # The empty trie: nothing to walk (geth sends no node, or its one
        # node, the empty string).
        if proof not in ([], [rlp.encode(b"")]):
            raise ProofError("nodes in the proof of an empty trie")
        return None
    path = nibbles(keccak(key))
    nodes = iter(proof)
    reference = root  # a 32-byte hash, or an inline node (decoded list)
    while True:
        if isinstance(reference, list):
            node = reference
        else:
            if reference == b"":
                return None
            encoded = next(nodes, None)
            if encoded is None:
                raise ProofError("proof ends before the path does")
            if keccak(encoded) != reference:
                raise ProofError(f"node hash {keccak(encoded).hex()} is not {reference.hex()}")
            node = rlp.decode(encoded)
        if len(node) == 17:
            if not path:
                value = node[16]
                break
            reference, path = node[path[0]], path[1:]
        elif len(node) == 2:
            segment, is_leaf = hex_prefix(node[0])
            if is_leaf:
                value = node[1] if segment == path else None
                break
            if path[: len(segment)] != segment:
                value = None
                break
            reference, path = node[1], path[len(segment) :]
        else:
            raise ProofError(f"a node of {len(node)} items")
    if next(nodes, None) is not None:
        raise ProofError("nodes left over after the path ended")
    return value if value else None


def to_bytes(hex_string):
    return bytes.fromhex(hex_string[2:]) if hex_string != "0x" else b""


def quantity_bytes(hex_quantity):
    n = int(hex_quantity, 16)
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def check_account(url, address, slots, block):
    """Verifies one eth_getProof answer; returns (exists, {slot: value})."""
    header = rpc(url, "eth_getBlockByNumber", [block, False])
    root = to_bytes(header["stateRoot"])
    answer = rpc(url, "eth_getProof", [address, ["0x" + s.hex() for s in slots], block])
    proof = [to_bytes(p) for p in answer["accountProof"]]
    leaf = verify(root, to_bytes(address), proof)
    if leaf is None:
        exists = False
        expected = [b"", b"", EMPTY_ROOT, EMPTY_CODE]
    else:
        exists = True
        expected = rlp.decode(leaf)
    stated = [
        quantity_bytes(answer["nonce"]),
        quantity_bytes(answer["balance"]),
        to_bytes(answer["storageHash"]),
        to_bytes(answer["codeHash"]),
    ]
    if stated != expected:
        raise ProofError(f"{address} at {block}: answer {stated} but the proof holds {expected}")
    storage_root = stated[2]
    values = {}
    for slot, entry in zip(slots, answer["storageProof"]):
        value = verify(storage_root, slot, [to_bytes(p) for p in entry["proof"]])
        proven = rlp.decode(value) if value is not None else b""
        stated_value = quantity_bytes(entry["value"])
        if proven != stated_value:
            raise ProofError(f"{address} slot {slot.hex()}: answer {entry['value']}, proof {proven.hex()}")
        values[slot] = proven
    if len(answer["storageProof"]) != len(slots):
        raise ProofError(f"{len(answer['storageProof'])} storage proofs for {len(slots)} slots")
    return exists, values, answer


def slot(n):
    return n.to_bytes(32, "big")


def main(url):
    Account.enable_unaudited_hdwallet_features()
    sender = Account.from_mnemonic(MNEMONIC, account_path="m/44'/60'/0'/0/0")
    tx_hash = rpc(url, "eth_sendTransaction", [{"from": sender.address, "data": "0x" + INIT_CODE.hex()}])
    rpc(url, "evm_mine", [])
    receipt = rpc(url, "eth_getTransactionReceipt", [tx_hash])
    assert receipt and receipt["status"] == "0x1", receipt
    contract = receipt["contractAddress"]
    absent_slot = slot(5)
    slots = [slot(0), slot(1), BIG_SLOT, absent_slot]
    checked = 0

    def check_at(block, transferred, slot0=b"\x2a"):
        nonlocal checked
        exists, values, _ = check_account(url, contract, slots, block)
        assert exists, f"contract {contract} not proven at {block}"
        assert values[slot(0)] == slot0 and values[slot(1)] == b"\x01\x02", values
        assert values[BIG_SLOT] == BIG_VALUE.lstrip(b"\x00"), values
        assert values[absent_slot] == b"", "an unset slot must be proven absent"
        exists, _, answer = check_account(url, sender.address, [], block)
        assert exists and int(answer["nonce"], 16) >= 1, answer
        exists, values, _ = check_account(url, "0x" + "de" * 20, [slot(0)], block)
        assert not exists and values[slot(0)] == b"", "an absent account must be proven absent"
        exists, _, _ = check_account(url, "0x" + "11" * 20, [], block)
        assert exists == transferred, "the 0x11.. account exists only after the transfer"
        checked += 4

    # The head, by tag and by number, then a block that adds an account and
    # changes the sender's nonce (a new state root); the deployment's block
    # is then a past block, whose proofs the node rebuilds.
    deployed = receipt["blockNumber"]
    check_at("latest", False)
    check_at(deployed, False)
    rpc(url, "eth_sendTransaction", [{"from": sender.address, "to": "0x" + "11" * 20, "value": "0x5"}])
    rpc(url, "evm_mine", [])
    check_at("latest", True)
    check_at(deployed, False)
    # Slot 0 changed, then cleared (a removal from the storage trie): the
    # head's storage trie moves away from the deployment's.
    rpc(url, "eth_sendTransaction", [{"from": sender.address, "to": contract, "data": "0x" + slot(0x77).hex()}])
    rpc(url, "evm_mine", [])
    changed = rpc(url, "eth_blockNumber", [])
    rpc(url, "eth_sendTransaction", [{"from": sender.address, "to": contract, "data": "0x" + slot(0).hex()}])
    rpc(url, "evm_mine", [])
    check_at("latest", True, slot0=b"")
    check_at(changed, True, slot0=b"\x77")
    check_at(deployed, False)
    # Before the deployment: the contract is absent (an exclusion proof in
    # a past trie), its slots too.
    before = hex(int(deployed, 16) - 1)
    exists, values, _ = check_account(url, contract, slots, before)
    assert not exists and all(v == b"" for v in values.values()), values
    checked += 1

    # A proof that was tampered with is rejected.
    header = rpc(url, "eth_getBlockByNumber", ["latest", False])
    answer = rpc(url, "eth_getProof", [contract, [], "latest"])
    proof = [to_bytes(p) for p in answer["accountProof"]]
    last = bytearray(proof[-1])
    last[-1] ^= 1
    try:
        verify(to_bytes(header["stateRoot"]), to_bytes(contract), proof[:-1] + [bytes(last)])
    except ProofError:
        pass
    else:
        raise AssertionError("a tampered proof verified")
    try:
        verify(to_bytes(header["stateRoot"]), to_bytes(contract), proof[:-1])
    except ProofError:
        pass
    else:
        raise AssertionError("a truncated proof verified")
    print(f"{checked} account proofs and their storage proofs verified, at the head and at past blocks")
    print("proofs verified")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
