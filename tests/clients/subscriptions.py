"""Subscriptions and polled filters against an Outrigger dev node.

    python subscriptions.py HTTP_URL WS_URL ARTIFACT_JSON

Over WebSocket (the `websockets` client web3.py ships with): eth_subscribe to
newHeads, logs and newPendingTransactions, then a deployment that emits a
log must show up on all three; eth_unsubscribe. Over HTTP with web3.py:
block, pending-transaction and log filters polled with eth_getFilterChanges.
"""

import asyncio
import json
import sys

import websockets
from eth_account import Account
from web3 import Web3

HTTP, WS, ARTIFACT = sys.argv[1], sys.argv[2], sys.argv[3]
KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
TRANSFER_TOPIC = "0x" + Web3.keccak(text="Transfer(address,address,uint256)").hex().removeprefix("0x")
acct = Account.from_key(KEY)
w3 = Web3(Web3.HTTPProvider(HTTP, request_kwargs={"timeout": 30}))
bytecode = json.load(open(ARTIFACT))["TestToken"]["bytecode"]


def signed_deploy(nonce):
    data = bytecode + (1000).to_bytes(32, "big").hex()
    tx = {"type": 2, "chainId": 1337, "nonce": nonce, "data": data, "gas": 1_000_000,
          "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9, "value": 0}
    return acct.sign_transaction(tx)


async def websocket_flow():
    async with websockets.connect(WS) as ws:
        next_id = iter(range(1, 1000))
        inbox = []

        async def call(method, params):
            request_id = next(next_id)
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}))
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if message.get("id") == request_id:
                    assert "error" not in message, message
                    return message["result"]
                inbox.append(message)

        async def notification(subscription, predicate):
            while True:
                for message in inbox:
                    params = message.get("params", {})
                    if params.get("subscription") == subscription and predicate(params["result"]):
                        inbox.remove(message)
                        return params["result"]
                inbox.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))

        heads = await call("eth_subscribe", ["newHeads"])
        logs = await call("eth_subscribe", ["logs", {"topics": [TRANSFER_TOPIC]}])
        pending = await call("eth_subscribe", ["newPendingTransactions"])
        assert len({heads, logs, pending}) == 3
        # An unknown kind is refused, the connection stays usable.
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 999, "method": "eth_subscribe", "params": ["bogus"]}))

        nonce = int(await call("eth_getTransactionCount", [acct.address, "pending"]), 16)
        tx_hash = await call("eth_sendRawTransaction", ["0x" + signed_deploy(nonce).raw_transaction.hex().removeprefix("0x")])
        assert await notification(pending, lambda r: r == tx_hash) == tx_hash
        log = await notification(logs, lambda r: r["transactionHash"] == tx_hash)
        assert log["topics"][0] == TRANSFER_TOPIC, log
        head = await notification(heads, lambda r: r["number"] == log["blockNumber"])
        assert head["hash"] == log["blockHash"], (head, log)
        assert int(head["gasUsed"], 16) > 0
        refused = [m for m in inbox if m.get("id") == 999]
        if not refused:
            refused = [json.loads(await asyncio.wait_for(ws.recv(), 30))]
        assert refused and refused[0]["error"]["code"] == -32602, refused

        for subscription in (heads, logs, pending):
            assert await call("eth_unsubscribe", [subscription]) is True
        assert await call("eth_unsubscribe", [heads]) is False


def filter_flow():
    blocks = w3.eth.filter("latest")
    pending = w3.eth.filter("pending")
    logs = w3.eth.filter({"topics": [TRANSFER_TOPIC]})
    nonce = w3.eth.get_transaction_count(acct.address, "pending")
    tx_hash = w3.eth.send_raw_transaction(signed_deploy(nonce).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.1)
    assert tx_hash in w3.eth.get_filter_changes(pending.filter_id)
    assert w3.eth.get_filter_changes(pending.filter_id) == [], "a poll drains the filter"
    assert receipt.blockHash in w3.eth.get_filter_changes(blocks.filter_id)
    changes = w3.eth.get_filter_changes(logs.filter_id)
    assert [c["transactionHash"] for c in changes] == [tx_hash], changes
    assert w3.eth.get_filter_changes(logs.filter_id) == []
    assert any(log["transactionHash"] == tx_hash for log in w3.eth.get_filter_logs(logs.filter_id))
    for f in (blocks, pending, logs):
        assert w3.eth.uninstall_filter(f.filter_id) is True
    assert w3.eth.uninstall_filter(blocks.filter_id) is False


asyncio.run(websocket_flow())
filter_flow()
print("subscriptions flow passed")
