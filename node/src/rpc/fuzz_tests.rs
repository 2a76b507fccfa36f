//! Fuzz target `rpc` (see `outrigger-fuzz`): request bodies posted over
//! HTTP to a real `--dev` node started in this process. Inputs are either
//! raw bodies (mutated JSON: malformed, deeply nested, huge numbers), half
//! are requests and batches built from the bytes (real method names,
//! Ethereum-shaped and wrong-typed params, odd ids). Every reply must be a
//! valid JSON-RPC response (or nothing, for notifications) with HTTP 200,
//! or a JSON-RPC error with 400 (not JSON) or 413 (too large),
//! the connection must stay up, and the node must keep answering.

use std::{
    io::{BufRead as _, BufReader, Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    time::Duration,
};

use outrigger_fuzz::{
    Fuzzer,
    arbitrary::{Result, Unstructured},
    outcome,
};
use serde_json::{Value, json};

use crate::{dev, test_node::TestNode};

/// Every method the server has (checked at start: none answers -32601).
const METHODS: &[&str] = &[
    "debug_traceBlockByHash",
    "debug_traceBlockByNumber",
    "debug_traceCall",
    "debug_traceTransaction",
    "eth_accounts",
    "eth_baseFee",
    "eth_blobBaseFee",
    "eth_blockNumber",
    "eth_call",
    "eth_capabilities",
    "eth_chainId",
    "eth_createAccessList",
    "eth_estimateGas",
    "eth_feeHistory",
    "eth_gasPrice",
    "eth_getBalance",
    "eth_getBlockByHash",
    "eth_getBlockByNumber",
    "eth_getBlockReceipts",
    "eth_getBlockTransactionCountByHash",
    "eth_getBlockTransactionCountByNumber",
    "eth_getCode",
    "eth_getFilterChanges",
    "eth_getFilterLogs",
    "eth_getLogs",
    "eth_getProof",
    "eth_getRawTransactionByHash",
    "eth_getStorageAt",
    "eth_getStorageValues",
    "eth_getTransactionByBlockHashAndIndex",
    "eth_getTransactionByBlockNumberAndIndex",
    "eth_getTransactionByHash",
    "eth_getTransactionCount",
    "eth_getTransactionReceipt",
    "eth_getUncleCountByBlockHash",
    "eth_getUncleCountByBlockNumber",
    "eth_maxPriorityFeePerGas",
    "eth_newBlockFilter",
    "eth_newFilter",
    "eth_newPendingTransactionFilter",
    "eth_sendRawTransaction",
    "eth_sendTransaction",
    "eth_sign",
    "eth_simulateV1",
    "eth_syncing",
    "eth_uninstallFilter",
    "evm_mine",
    "net_listening",
    "net_peerCount",
    "net_version",
    "outrigger_evidence",
    "outrigger_validators",
    "personal_sign",
    "txpool_content",
    "txpool_contentFrom",
    "txpool_inspect",
    "txpool_status",
    "web3_clientVersion",
    "web3_sha3",
];

/// A keep-alive HTTP/1.1 connection to the node.
struct Client {
    addr: SocketAddr,
    stream: BufReader<TcpStream>,
}

/// An HTTP reply: status and body.
struct Reply {
    status: u16,
    body: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connecting to the node");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        Self {
            addr,
            stream: BufReader::new(stream),
        }
    }

    /// Posts `body`; `None` if the server closed the connection.
    fn post(&mut self, body: &[u8]) -> Option<Reply> {
        let head = format!(
            "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let stream = self.stream.get_mut();
        stream.write_all(head.as_bytes()).ok()?;
        stream.write_all(body).ok()?;
        let mut line = String::new();
        if self.stream.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let status: u16 = line.split(' ').nth(1)?.parse().ok()?;
        let mut length = None;
        let mut chunked = false;
        loop {
            line.clear();
            self.stream.read_line(&mut line).ok()?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':')?;
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse::<usize>().ok(),
                "transfer-encoding" => chunked = value.trim().eq_ignore_ascii_case("chunked"),
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.stream.read_line(&mut line).ok()?;
                let size = usize::from_str_radix(line.trim(), 16).ok()?;
                let mut chunk = vec![0; size + 2];
                self.stream.read_exact(&mut chunk).ok()?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else {
            body.resize(length.unwrap_or(0), 0);
            self.stream.read_exact(&mut body).ok()?;
        }
        Some(Reply { status, body })
    }

    /// Posts `body`, reconnecting once if the connection had been closed
    /// (idle keep-alive connections may be); a second failure is a finding.
    fn post_retry(&mut self, body: &[u8]) -> Reply {
        if let Some(reply) = self.post(body) {
            return reply;
        }
        *self = Client::connect(self.addr);
        self.post(body)
            .expect("the node closed the connection instead of replying")
    }
}

/// Checks one JSON-RPC response object; returns its error code, if any.
fn check_response(response: &Value) -> Option<i64> {
    let object = response
        .as_object()
        .unwrap_or_else(|| panic!("a response that is not an object: {response}"));
    assert_eq!(object.get("jsonrpc"), Some(&json!("2.0")), "{response}");
    let id = object
        .get("id")
        .unwrap_or_else(|| panic!("no id: {response}"));
    assert!(
        id.is_null() || id.is_number() || id.is_string(),
        "id {id} in {response}"
    );
    match (object.get("result"), object.get("error")) {
        (Some(_), None) => None,
        (None, Some(error)) => {
            let code = error["code"]
                .as_i64()
                .unwrap_or_else(|| panic!("error without an integer code: {response}"));
            assert!(error["message"].is_string(), "{response}");
            Some(code)
        }
        _ => panic!("not exactly one of result and error: {response}"),
    }
}

/// Whether `request` (the body sent) is one or more notifications only,
/// which the server answers with `null` over HTTP. jsonrpsee takes a
/// request whose id is not a string, an unsigned integer or null (`"id":{}`,
/// `"id":-1`, `"id":1.5`) for a notification too, where JSON-RPC 2.0 wants
/// an answer: a quirk found by this target, harmless to real clients.
fn only_notifications(request: &[u8]) -> bool {
    let is_notification = |v: &Value| {
        v.as_object().is_some_and(|o| {
            o.get("id")
                .is_none_or(|id| !(id.is_null() || id.is_u64() || id.is_string()))
        })
    };
    if duplicate_id(request) {
        // `{"id":1,...,"id":2}`: jsonrpsee cannot read it as a request and
        // takes it for a notification (the same quirk).
        return true;
    }
    match serde_json::from_slice::<Value>(request) {
        Ok(Value::Array(items)) => !items.is_empty() && items.iter().all(is_notification),
        Ok(v) => is_notification(&v),
        Err(_) => false,
    }
}

/// Whether `request` is an object (or a batch holding one) with the key
/// `id` twice, which `serde_json::Value` would hide by keeping the last.
fn duplicate_id(request: &[u8]) -> bool {
    struct Probe(bool);
    impl<'de> serde::Deserialize<'de> for Probe {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(ProbeVisitor)
        }
    }
    struct ProbeVisitor;
    impl<'de> serde::de::Visitor<'de> for ProbeVisitor {
        type Value = Probe;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("any JSON")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Probe, A::Error> {
            let (mut ids, mut nested) = (0, false);
            while let Some(key) = map.next_key::<String>()? {
                ids += usize::from(key == "id");
                nested |= map.next_value::<Probe>()?.0;
            }
            Ok(Probe(ids > 1 || nested))
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Probe, A::Error> {
            let mut any = false;
            while let Some(item) = seq.next_element::<Probe>()? {
                any |= item.0;
            }
            Ok(Probe(any))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Probe, E> {
            Ok(Probe(false))
        }
        fn visit_i64<E>(self, _: i64) -> Result<Probe, E> {
            Ok(Probe(false))
        }
        fn visit_u64<E>(self, _: u64) -> Result<Probe, E> {
            Ok(Probe(false))
        }
        fn visit_f64<E>(self, _: f64) -> Result<Probe, E> {
            Ok(Probe(false))
        }
        fn visit_str<E>(self, _: &str) -> Result<Probe, E> {
            Ok(Probe(false))
        }
        fn visit_unit<E>(self) -> Result<Probe, E> {
            Ok(Probe(false))
        }
    }
    serde_json::from_slice::<Probe>(request).is_ok_and(|p| p.0)
}

/// Checks a reply; returns its outcome.
fn check(request: &[u8], reply: &Reply) -> u64 {
    // jsonrpsee answers a body that is not JSON (or is empty) with 400 and
    // a JSON-RPC parse error, an oversized one with 413; anything else is 200.
    assert!(
        matches!(reply.status, 200 | 400 | 413),
        "HTTP {} for a JSON-RPC request: {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    if reply.status != 200 {
        let value: Value = serde_json::from_slice(&reply.body).expect("a JSON error");
        let code = check_response(&value).expect("an error");
        return outcome((reply.status, code));
    }
    if reply.body.is_empty() || reply.body == b"null" {
        assert!(
            only_notifications(request),
            "no reply to a request with an id: {}",
            String::from_utf8_lossy(request)
        );
        return outcome("notification");
    }
    let value: Value = serde_json::from_slice(&reply.body).unwrap_or_else(|e| {
        panic!(
            "reply is not JSON ({e}): {}",
            String::from_utf8_lossy(&reply.body)
        )
    });
    match &value {
        Value::Array(responses) => {
            assert!(!responses.is_empty(), "an empty batch reply");
            let codes: Vec<Option<i64>> = responses.iter().map(check_response).collect();
            outcome((
                "batch",
                codes.len().min(4),
                codes.into_iter().flatten().min(),
            ))
        }
        _ => {
            let code = check_response(&value);
            // The method that answered, when the request names one.
            let method = serde_json::from_slice::<Value>(request)
                .ok()
                .and_then(|r| r.get("method").and_then(Value::as_str).map(str::to_owned))
                .filter(|m| METHODS.contains(&m.as_str()));
            outcome((method, code))
        }
    }
}

fn hex(u: &mut Unstructured<'_>, max_bytes: usize) -> Result<String> {
    let len = u.int_in_range(0..=max_bytes)?;
    let bytes = u.bytes(len)?;
    Ok(format!(
        "0x{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// A JSON value shaped like Ethereum params, or deliberately not.
fn param(u: &mut Unstructured<'_>, depth: usize) -> Result<Value> {
    Ok(match u.int_in_range(0..=15)? {
        0 => Value::Null,
        1 => json!(u.arbitrary::<bool>()?),
        2 => json!(u.arbitrary::<i64>()?),
        3 => json!(
            u.arbitrary::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .unwrap_or(1.5)
        ),
        4 => json!(format!("0x{:x}", u.arbitrary::<u64>()?)),
        5 => json!(hex(u, 20)?),
        6 => json!(hex(u, 32)?),
        7 => json!(hex(u, 200)?),
        8 => json!(*u.choose(&[
            "latest",
            "pending",
            "earliest",
            "safe",
            "finalized",
            "0x0",
            "0x1",
            "0x",
            "0x00",
            "-1",
            "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
        ])?),
        9 => {
            let len = u.int_in_range(0..=16)?;
            json!(String::from_utf8_lossy(u.bytes(len)?))
        }
        10 => json!(format!("0x{}", "f".repeat(u.int_in_range(0..=200)?))),
        11 | 12 if depth < 4 => {
            // A transaction-call-filter-ish object.
            let keys = [
                "from",
                "to",
                "gas",
                "gasPrice",
                "maxFeePerGas",
                "maxPriorityFeePerGas",
                "value",
                "data",
                "input",
                "nonce",
                "chainId",
                "accessList",
                "type",
                "blockHash",
                "fromBlock",
                "toBlock",
                "address",
                "topics",
                "blockOverrides",
                "stateOverrides",
                "calls",
                "tracer",
                "tracerConfig",
                "timeout",
                "blockStateCalls",
                "validation",
                "traceTransfers",
                "authorizationList",
            ];
            let mut object = serde_json::Map::new();
            for _ in 0..u.int_in_range(0..=5)? {
                object.insert((*u.choose(&keys)?).to_owned(), param(u, depth + 1)?);
            }
            Value::Object(object)
        }
        13 if depth < 4 => {
            let n = u.int_in_range(0..=4)?;
            Value::Array((0..n).map(|_| param(u, depth + 1)).collect::<Result<_>>()?)
        }
        _ => json!(format!("0x{}", "00".repeat(u.int_in_range(0..=32)?))),
    })
}

fn request(u: &mut Unstructured<'_>, id: u64) -> Result<Value> {
    let mut object = serde_json::Map::new();
    if !u.ratio(1, 20)? {
        object.insert("jsonrpc".into(), json!("2.0"));
    }
    let method = if u.ratio(1, 20)? {
        param(u, 3)?
    } else {
        json!(*u.choose(METHODS)?)
    };
    object.insert("method".into(), method);
    let params = match u.int_in_range(0..=9)? {
        0 => None,
        1 => Some(param(u, 0)?),
        n => {
            let count = (n - 2).min(4);
            Some(Value::Array(
                (0..count).map(|_| param(u, 0)).collect::<Result<_>>()?,
            ))
        }
    };
    if let Some(params) = params {
        object.insert("params".into(), params);
    }
    match u.int_in_range(0..=12)? {
        0 => {} // a notification
        1 => {
            object.insert("id".into(), Value::Null);
        }
        2 => {
            object.insert("id".into(), json!("an id"));
        }
        3 => {
            object.insert("id".into(), param(u, 3)?);
        }
        _ => {
            object.insert("id".into(), json!(id));
        }
    }
    Ok(Value::Object(object))
}

/// The body an input stands for: raw bytes, or a request built from them.
fn body(input: &[u8]) -> Vec<u8> {
    // Corpus files are plain JSON: they start with `{` or `[`.
    let built = input
        .first()
        .is_some_and(|b| b & 1 == 1 && !matches!(b, b'{' | b'['));
    if !built {
        return input.to_vec();
    }
    let mut u = Unstructured::new(&input[1..]);
    let built = (|| -> Result<Value> {
        if u.ratio(1, 5)? {
            let n = u.int_in_range(0..=8)?;
            Ok(Value::Array(
                (0..n).map(|i| request(&mut u, i)).collect::<Result<_>>()?,
            ))
        } else {
            request(&mut u, 1)
        }
    })();
    let value =
        built.unwrap_or_else(|_| json!({"jsonrpc": "2.0", "id": 0, "method": "eth_chainId"}));
    serde_json::to_vec(&value).expect("a Value serialises")
}

fn alive(client: &mut Client) {
    let reply = client.post_retry(br#"{"jsonrpc":"2.0","id":7,"method":"eth_chainId"}"#);
    let value: Value = serde_json::from_slice(&reply.body).expect("JSON");
    assert_eq!(
        value["result"],
        json!(format!("0x{:x}", dev::DEV_CHAIN_ID)),
        "{value}"
    );
}

#[test]
fn fuzz_rpc() {
    let node = TestNode::start(2, |config| {
        config.block.time_ms = 0;
        // Traces and simulations of fuzzed calls stay short.
        config.rpc.max_trace_timeout_ms = 2_000;
        config.rpc.gas_cap = 5_000_000;
    });
    let handle = &node.handle;
    let mut client = Client::connect(handle.rpc_addr);
    alive(&mut client);
    for method in METHODS {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": []});
        let reply = client.post_retry(body.to_string().as_bytes());
        let value: Value = serde_json::from_slice(&reply.body).expect("JSON");
        assert_ne!(
            value["error"]["code"],
            json!(-32601),
            "{method} is not served: {value}"
        );
    }

    let mut executions = 0u64;
    let report = Fuzzer::new("rpc")
        .max_len(4096)
        .slow(Duration::from_secs(10))
        .dictionary([
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "\"",
            "null",
            "true",
            "-",
            "1e999",
            "0x",
            "\"jsonrpc\":\"2.0\"",
            "\"id\":",
            "\"method\":",
            "\"params\":",
            "\"eth_call\"",
            "\"eth_getLogs\"",
            "\"eth_sendRawTransaction\"",
            "\"latest\"",
            "[[[[[[[[[[[[[[[[",
            "99999999999999999999999999999999",
        ])
        .run(|input| {
            let body = body(input);
            let reply = client.post_retry(&body);
            let outcome = check(&body, &reply);
            executions += 1;
            if executions.is_multiple_of(256) {
                alive(&mut client);
            }
            outcome
        });
    // Still serving, on this connection and a new one.
    alive(&mut client);
    alive(&mut Client::connect(handle.rpc_addr));
    assert!(report.executions > 0);
    node.stop();
}
