"""A dApp's flow against an Outrigger dev node, through web3.py.

    python web3_flow.py RPC_URL ARTIFACT_JSON

Sends an EIP-1559 transfer, deploys an ERC20, calls it, reads its logs with
eth_getLogs, gets a revert reason and a "nonce too low" refusal. Exits
non-zero (an AssertionError or a web3 exception) if anything differs from
what geth would answer.
"""

import json
import sys

from eth_account import Account
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError

RPC, ARTIFACT = sys.argv[1], sys.argv[2]
# Accounts 0 and 1 of the test mnemonic.
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
TOKEN_ABI = [
    {"type": "constructor", "inputs": [{"name": "supply", "type": "uint256"}], "stateMutability": "nonpayable"},
    {"type": "function", "name": "balanceOf", "inputs": [{"name": "", "type": "address"}],
     "outputs": [{"name": "", "type": "uint256"}], "stateMutability": "view"},
    {"type": "function", "name": "totalSupply", "inputs": [],
     "outputs": [{"name": "", "type": "uint256"}], "stateMutability": "view"},
    {"type": "function", "name": "transfer",
     "inputs": [{"name": "to", "type": "address"}, {"name": "value", "type": "uint256"}],
     "outputs": [{"name": "", "type": "bool"}], "stateMutability": "nonpayable"},
    {"type": "event", "name": "Transfer", "anonymous": False, "inputs": [
        {"name": "from", "type": "address", "indexed": True},
        {"name": "to", "type": "address", "indexed": True},
        {"name": "value", "type": "uint256", "indexed": False}]},
]
FAIL_ABI = [{"type": "function", "name": "fail", "inputs": [], "outputs": [], "stateMutability": "pure"},
            {"type": "function", "name": "stored", "inputs": [],
             "outputs": [{"name": "", "type": "uint256"}], "stateMutability": "view"}]

w3 = Web3(Web3.HTTPProvider(RPC, request_kwargs={"timeout": 30}))
assert w3.is_connected(), "node not reachable"
assert w3.eth.chain_id == 1337, w3.eth.chain_id
acct = Account.from_key(KEY)
artifact = json.load(open(ARTIFACT))


def send(tx):
    """Fills fees and nonce like a wallet, signs, sends, waits for the receipt."""
    tx = dict(tx)
    tx.setdefault("chainId", w3.eth.chain_id)
    tx.setdefault("nonce", w3.eth.get_transaction_count(acct.address, "pending"))
    tip = w3.eth.max_priority_fee
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    tx.setdefault("maxPriorityFeePerGas", tip)
    tx.setdefault("maxFeePerGas", 2 * base + tip)
    tx["type"] = 2
    if "gas" not in tx:
        tx["gas"] = w3.eth.estimate_gas({k: v for k, v in tx.items() if k != "type"} | {"from": acct.address})
    signed = acct.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    assert w3.eth.get_transaction(tx_hash)["hash"] == tx_hash
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.1)
    return tx_hash, receipt


# 1. An EIP-1559 value transfer.
before = w3.eth.get_balance(OTHER)
tx_hash, receipt = send({"to": OTHER, "value": Web3.to_wei(1, "ether"), "gas": 21000})
assert receipt.status == 1 and receipt.type == 2, receipt
assert receipt.gasUsed == 21000, receipt.gasUsed
assert w3.eth.get_balance(OTHER) == before + Web3.to_wei(1, "ether")
tx = w3.eth.get_transaction(tx_hash)
assert tx.blockNumber == receipt.blockNumber and tx["from"] == acct.address
block = w3.eth.get_block(receipt.blockNumber, full_transactions=True)
assert block.transactions[receipt.transactionIndex]["hash"] == tx_hash
assert w3.eth.get_block(block.hash).number == block.number
assert w3.eth.estimate_gas({"from": acct.address, "to": OTHER, "value": 1}) == 21000

# 2. Deploy an ERC20 (gas from eth_estimateGas), call it, move tokens.
token_factory = w3.eth.contract(abi=TOKEN_ABI, bytecode=artifact["TestToken"]["bytecode"])
deploy_data = token_factory.constructor(1_000_000).data_in_transaction
deploy_gas = w3.eth.estimate_gas({"from": acct.address, "data": deploy_data})
_, receipt = send({"data": deploy_data, "gas": deploy_gas})
assert receipt.status == 1, receipt
token_address = receipt.contractAddress
assert token_address and len(w3.eth.get_code(token_address)) > 0
token = w3.eth.contract(address=token_address, abi=TOKEN_ABI)
assert token.functions.totalSupply().call() == 1_000_000
assert token.functions.balanceOf(acct.address).call() == 1_000_000
_, receipt = send({"to": token_address, "data": token.encode_abi("transfer", args=[OTHER, 250])})
assert receipt.status == 1 and len(receipt.logs) == 1, receipt
assert token.functions.balanceOf(OTHER).call() == 250

# 3. Its logs, through eth_getLogs.
events = token.events.Transfer.get_logs(from_block=0)
assert [(e.args["from"], e.args.to, e.args.value) for e in events] == [
    ("0x0000000000000000000000000000000000000000", acct.address, 1_000_000),
    (acct.address, OTHER, 250),
], events
to_other = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": token_address,
                            "topics": [None, None, "0x" + "00" * 12 + OTHER[2:].lower()]})
assert len(to_other) == 1 and to_other[0]["transactionHash"] == receipt.transactionHash, to_other
assert w3.eth.get_logs({"fromBlock": receipt.blockNumber, "toBlock": receipt.blockNumber,
                        "address": OTHER}) == []

# 4. Revert reasons: from eth_call and from eth_estimateGas.
fail_factory = w3.eth.contract(abi=FAIL_ABI, bytecode=artifact["Ephemeral"]["bytecode"])
_, receipt = send({"data": fail_factory.constructor().data_in_transaction})
failing = w3.eth.contract(address=receipt.contractAddress, abi=FAIL_ABI)
assert failing.functions.stored().call() == 1
try:
    failing.functions.fail().call()
    raise AssertionError("fail() did not revert")
except ContractLogicError as error:
    assert "always fails" in str(error), error
try:
    token.functions.transfer(OTHER, 10**30).estimate_gas({"from": acct.address})
    raise AssertionError("an unfunded transfer estimated")
except ContractLogicError as error:
    assert "insufficient balance" in str(error), error

# 5. A replayed nonce is refused with geth's message.
stale = acct.sign_transaction({"type": 2, "chainId": 1337, "nonce": 0, "to": OTHER, "value": 1, "gas": 21000,
                               "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9})
try:
    w3.eth.send_raw_transaction(stale.raw_transaction)
    raise AssertionError("a stale nonce was accepted")
except Web3RPCError as error:
    assert "nonce too low" in str(error), error

# 6. Fee data that wallets read.
history = w3.eth.fee_history(4, "latest", [25, 75])
assert len(history["baseFeePerGas"]) == len(history["gasUsedRatio"]) + 1
assert all(len(r) == 2 for r in history["reward"])
assert w3.eth.gas_price >= w3.eth.get_block("latest")["baseFeePerGas"]
# 7. Node-managed dev accounts sign; eth-account verifies independently.
from eth_account.messages import encode_defunct, encode_typed_data  # noqa: E402

assert w3.eth.accounts[0] == acct.address
signature = w3.provider.make_request("personal_sign", ["0x" + b"gm".hex(), acct.address])["result"]
assert Account.recover_message(encode_defunct(b"gm"), signature=signature) == acct.address
typed = {
    "types": {
        "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "chainId", "type": "uint256"},
                         {"name": "verifyingContract", "type": "address"}],
        "Mail": [{"name": "to", "type": "address"}, {"name": "contents", "type": "string"},
                 {"name": "amounts", "type": "uint256[]"}],
    },
    "primaryType": "Mail",
    "domain": {"name": "Outrigger", "chainId": 1337, "verifyingContract": token_address},
    "message": {"to": OTHER, "contents": "hello", "amounts": [1, 2, 3]},
}
for params in ([acct.address, typed], [acct.address, json.dumps(typed)]):
    signature = w3.provider.make_request("eth_signTypedData_v4", params)["result"]
    assert Account.recover_message(encode_typed_data(full_message=typed), signature=signature) == acct.address
tx_hash = w3.eth.send_transaction({"from": acct.address, "to": OTHER, "value": 3})
assert w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.1).status == 1
print("web3.py flow passed")
