"""Hostile JSON-RPC clients against a running node, with a well-behaved
client's latency measured before and during the abuse.

    hostile_rpc.py RPC_HOST:PORT METRICS_HOST:PORT PER_IP_LIMIT

The attacker connects from 127.0.0.2 (loopback, another source address),
the well-behaved client from 127.0.0.1:
- slow clients: twice the per-IP limit of connections that send half a
  request header and hold it (slowloris);
- a huge body announced and trickled;
- deeply nested JSON (100,000 levels);
Prints figures and "hostile clients held" when the node kept serving.
"""
import json
import socket
import statistics
import sys
import time
import urllib.request

RPC, METRICS, PER_IP = sys.argv[1], sys.argv[2], int(sys.argv[3])
HOST, PORT = RPC.split(":")[0], int(RPC.split(":")[1])


def call(method="eth_blockNumber", params=()):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    request = urllib.request.Request(
        f"http://{RPC}", data=body.encode(), headers={"content-type": "application/json"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    assert "result" in answer, answer
    return (time.perf_counter() - started) * 1000


def latencies(n=100):
    samples = sorted(call() for _ in range(n))
    return statistics.median(samples), samples[int(n * 0.99) - 1]


def attacker_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    s.bind(("127.0.0.2", 0))
    s.connect((HOST, PORT))
    return s


def metric(name):
    with urllib.request.urlopen(f"http://{METRICS}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


base_p50, base_p99 = latencies()
print(f"well-behaved eth_blockNumber before: p50 {base_p50:.2f} ms, p99 {base_p99:.2f} ms")

# Slowloris: half a header each, held open.
held = []
for _ in range(PER_IP * 2):
    try:
        s = attacker_socket()
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
        held.append(s)
    except OSError:
        pass
time.sleep(0.5)
refused = metric('outrigger_rpc_connections_refused_total{reason="per_ip"}')
open_now = metric("outrigger_rpc_tcp_connections")
print(f"slow connections attempted {PER_IP * 2}: open on the node {open_now:.0f}, refused per IP {refused:.0f}")
assert refused >= PER_IP - 5, "the per-IP limit refused the excess"
assert open_now <= PER_IP + 5, "no more than the per-IP limit stays open"

during_p50, during_p99 = latencies()
print(f"well-behaved eth_blockNumber during: p50 {during_p50:.2f} ms, p99 {during_p99:.2f} ms")

# A huge body announced, trickled: refused by the body limit, not buffered.
for s in held[: PER_IP // 2]:
    s.close()
huge = attacker_socket()
huge.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n")
status = b""
try:
    for _ in range(64):
        huge.sendall(b"[" * 16384)
    status = huge.recv(64)
except OSError:
    status = b"closed"
print(f"a 1 GiB body announced: {status[:30]!r}")
assert status.startswith(b"HTTP/1.1 413") or status == b"closed" or status == b"", status
huge.close()

# Deeply nested JSON: a parse error, no crash.
nested = attacker_socket()
body = b"[" * 100_000 + b"]" * 100_000
nested.sendall(
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(body)).encode()
    + b"\r\n\r\n"
    + body
)
reply = nested.recv(4096)
first_line = reply.split(b"\r\n")[0]
print(f"100,000-deep JSON: {first_line!r}")
assert b"HTTP/1.1" in reply, reply
nested.close()

after_p50, after_p99 = latencies()
print(f"well-behaved eth_blockNumber after: p50 {after_p50:.2f} ms, p99 {after_p99:.2f} ms")
assert during_p99 < max(10 * base_p99, 50), "abuse must not slow others down much"
for s in held:
    s.close()
print("hostile clients held")
