"""Pushes a dev node past its JSON-RPC limits and checks that the refusal
names the limit and that the node keeps serving afterwards.

  limits.py subscriptions WS_URL HTTP_URL LIMIT   1,000 subscriptions on one
      WebSocket, then past rpc.max_subscriptions_per_connection (= LIMIT)
  limits.py connections WS_URL HTTP_URL LIMIT     LIMIT WebSockets held open
      (rpc.max_connections), then one more connection
  limits.py recursion HTTP_URL                    eth_call and eth_estimateGas
      of a contract asked to call itself 1,000 deep
"""

import asyncio
import json
import sys
import time
import urllib.error
import urllib.request

import websockets

LIMIT_EXCEEDED = -32005
MNEMONIC = "test test test test test test test test test test test junk"


def post(url, method, params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def result(url, method, params):
    answer = post(url, method, params)
    assert "error" not in answer, f"{method}: {answer}"
    return answer["result"]


def still_serving(url):
    assert result(url, "eth_chainId", []) == "0x539"


async def call_all(ws, requests):
    """Sends every request, then reads one answer per request (by id)."""
    for request in requests:
        await ws.send(json.dumps(request))
    answers = {}
    while len(answers) < len(requests):
        message = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if "id" in message:
            answers[message["id"]] = message
    return [answers[r["id"]] for r in requests]


def subscribe(ids):
    return [
        {"jsonrpc": "2.0", "id": i, "method": "eth_subscribe", "params": ["newHeads"]}
        for i in ids
    ]


async def subscriptions(ws_url, http_url, limit):
    async with websockets.connect(ws_url, max_size=None) as ws:
        first = await call_all(ws, subscribe(range(1000)))
        refused = [a for a in first if "error" in a]
        assert not refused, f"{len(refused)} of the first 1,000 refused: {refused[:2]}"
        ids = [a["result"] for a in first]
        assert len(set(ids)) == 1000
        # Past the limit: exactly the excess is refused, with -32005 naming it.
        extra = limit - 1000 + 10
        more = await call_all(ws, subscribe(range(1000, 1000 + extra)))
        errors = [a["error"] for a in more if "error" in a]
        assert len(errors) == 10, f"{len(errors)} refused of {extra} past {limit - 1000} free slots"
        for error in errors:
            assert error["code"] == LIMIT_EXCEEDED, error
            assert str(limit) in error["message"] and "subscriptions" in error["message"], error
        # The connection still works: a call, an unsubscribe frees a slot.
        [chain] = await call_all(ws, [{"jsonrpc": "2.0", "id": "c", "method": "eth_chainId", "params": []}])
        assert chain["result"] == "0x539", chain
        [gone] = await call_all(
            ws, [{"jsonrpc": "2.0", "id": "u", "method": "eth_unsubscribe", "params": [ids[0]]}]
        )
        assert gone["result"] is True, gone
        [again] = await call_all(ws, subscribe(["s"]))
        assert "result" in again, again
        # Every subscription still gets its block.
        result(http_url, "evm_mine", [])
        heads = set()
        deadline = time.monotonic() + 30
        while len(heads) < limit and time.monotonic() < deadline:
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if message.get("method") == "eth_subscription":
                heads.add(message["params"]["subscription"])
        assert len(heads) == limit, f"{len(heads)} of {limit} subscriptions saw the block"
    still_serving(http_url)
    print(f"1000 subscriptions held, {limit} at the limit, the 10 past it refused with -32005")


async def connections(ws_url, http_url, limit):
    sockets = [await websockets.connect(ws_url) for _ in range(limit)]
    try:
        try:
            extra = await websockets.connect(ws_url)
        except websockets.exceptions.InvalidStatus as refused:
            status = refused.response.status_code
            body = refused.response.body.decode()
        else:
            await extra.close()
            raise AssertionError(f"connection {limit + 1} of a limit of {limit} accepted")
        assert status == 429 and "Too many connections" in body, (status, body)
        try:
            post(http_url, "eth_chainId", [])
        except urllib.error.HTTPError as refused:
            assert refused.code == 429, refused
            assert "Too many connections" in refused.read().decode()
        else:
            raise AssertionError("an HTTP request past the connection limit was served")
        # The connections already open are still served.
        [chain] = await call_all(
            sockets[0], [{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}]
        )
        assert chain["result"] == "0x539", chain
    finally:
        for ws in sockets:
            await ws.close()
    # Once they close, everyone is served again.
    deadline = time.monotonic() + 10
    while True:
        try:
            still_serving(http_url)
            break
        except urllib.error.HTTPError:
            assert time.monotonic() < deadline, "still refused after the connections closed"
            await asyncio.sleep(0.1)
    print(f"{limit} connections held, connection {limit + 1} refused with HTTP 429")


def assemble(program):
    """Bytes of a program of opcodes (ints), 1-byte pushes ("push", n),
    labels ("label", name) and label references ("ref", name)."""
    labels, size = {}, 0
    for item in program:
        if isinstance(item, tuple) and item[0] == "label":
            labels[item[1]] = size
            size += 1
        else:
            size += 2 if isinstance(item, tuple) else 1
    out = bytearray()
    for item in program:
        if isinstance(item, tuple):
            kind, value = item
            if kind == "label":
                out.append(0x5B)  # JUMPDEST
            else:
                out += bytes([0x60, labels[value] if kind == "ref" else value])
        else:
            out.append(item)
    return bytes(out)


# f(n, strict): 0 if n == 0; else this.f(n - 1, strict) + 1 if that call
# succeeds. When it fails: 0, or, if strict, burn all gas (so the failure
# at the bottom reaches the top as "out of gas"). So f(n, 0) is the depth of
# nested calls that ran to the end.
ADD, SUB, ISZERO, SWAP1, DUP1, MLOAD, MSTORE = 0x01, 0x03, 0x15, 0x90, 0x80, 0x51, 0x52
JUMP, JUMPI, CALLDATALOAD, ADDRESS, GAS, CALL, RETURN = 0x56, 0x57, 0x35, 0x30, 0x5A, 0xF1, 0xF3
RECURSE = assemble(
    [
        ("push", 32), CALLDATALOAD, ("push", 32), MSTORE,
        ("push", 0), CALLDATALOAD, DUP1, ISZERO, ("ref", "zero"), JUMPI,
        ("push", 1), SWAP1, SUB, ("push", 0), MSTORE,
        # call(gas, this, 0, in 0..64, out 0..32)
        ("push", 32), ("push", 0), ("push", 64), ("push", 0), ("push", 0), ADDRESS, GAS, CALL,
        ISZERO, ("ref", "failed"), JUMPI,
        ("push", 0), MLOAD, ("push", 1), ADD, ("push", 0), MSTORE,
        ("push", 32), ("push", 0), RETURN,
        ("label", "failed"),
        ("push", 32), MLOAD, ISZERO, ("ref", "zero"), JUMPI,
        ("label", "burn"),
        ("ref", "burn"), JUMP,
        ("label", "zero"),
        ("push", 0), ("push", 0), MSTORE, ("push", 32), ("push", 0), RETURN,
    ]
)
# Copies the runtime after itself into memory and returns it.
DEPLOY = bytes([0x60, len(RECURSE), 0x80, 0x60, 0x0B, 0x60, 0x00, 0x39, 0x60, 0x00, 0xF3]) + RECURSE


def recursion(http_url):
    accounts = result(http_url, "eth_accounts", [])
    tx = result(http_url, "eth_sendTransaction", [{"from": accounts[0], "data": "0x" + DEPLOY.hex()}])
    result(http_url, "evm_mine", [])
    receipt = result(http_url, "eth_getTransactionReceipt", [tx])
    assert receipt["status"] == "0x1", receipt
    contract = receipt["contractAddress"]
    assert result(http_url, "eth_getCode", [contract, "latest"]) == "0x" + RECURSE.hex()

    def request(n, strict, method="eth_call", gas=None):
        call = {"to": contract, "data": "0x" + n.to_bytes(32, "big").hex() + strict.to_bytes(32, "big").hex()}
        if gas is not None:
            call["gas"] = hex(gas)
        started = time.monotonic()
        answer = post(http_url, method, [call, "latest"])
        return answer, time.monotonic() - started

    answer, _ = request(3, 0)
    assert int(answer["result"], 16) == 3, answer
    # Asked to recurse 1,000 deep, with more gas than any cap: the call gets
    # the capped gas, and each frame passes on 63/64 of what it has, so the
    # recursion ends where the gas does, and the call answers.
    answer, took = request(1000, 0, gas=2**62)
    reached = int(answer["result"], 16)
    assert 100 < reached < 1000, answer
    # The strict version fails at that depth, and says so: out of gas for
    # the call, and the allowance (the cap) for the estimate.
    answer, took_strict = request(1000, 1)
    assert answer["error"]["code"] == -32000 and "out of gas" in answer["error"]["message"], answer
    answer, _ = request(1000, 1, method="eth_estimateGas")
    message = answer["error"]["message"]
    assert answer["error"]["code"] == -32000 and "gas required exceeds allowance" in message, answer
    still_serving(http_url)
    print(
        f"1000-deep eth_call ran {reached} frames deep before the gas cap ran out ({took:.2f} s); "
        f"the strict one failed with out of gas ({took_strict:.2f} s); estimate: {message}"
    )


def main(argv):
    if argv[1:2] == ["subscriptions"] and len(argv) == 5:
        asyncio.run(subscriptions(argv[2], argv[3], int(argv[4])))
    elif argv[1:2] == ["connections"] and len(argv) == 5:
        asyncio.run(connections(argv[2], argv[3], int(argv[4])))
    elif argv[1:2] == ["recursion"] and len(argv) == 3:
        recursion(argv[2])
    else:
        sys.exit(__doc__)
    print("limits held")


if __name__ == "__main__":
    main(sys.argv)
