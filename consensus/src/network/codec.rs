//! The block sync protocol: its messages and their bounded wire encoding.
//!
//! Every message is one frame: a 4-byte big-endian body length, then the body.
//! A reader checks the length against its limit before reading anything else
//! and never allocates more than it has actually received, so a peer that
//! announces 4 GiB costs us 4 bytes. Bodies:
//!
//! ```text
//! request   0x00                                  Status
//!           0x01 from:u64 count:u32               Blocks (count <= 128)
//! response  0x00 chain_id:u64 genesis:[u8;32] head:u64
//!           0x01 n:u32 n * (len:u32 bytes)        Blocks
//!           0x02 len:u32 utf8                     Error (len <= 1 KiB)
//! ```
//! Integers are big-endian. Trailing bytes, unknown tags and counts above the
//! limits are decoding errors, which cost the sending peer.

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;

use super::config::SYNC_BLOCKS_PER_REQUEST_MAX;

/// A sync request, sent with [`super::NetworkHandle::request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncRequest {
    /// The peer's chain and head: answered with [`SyncResponse::Status`].
    Status,
    /// Up to `count` consecutive blocks from height `from`, answered with
    /// [`SyncResponse::Blocks`]. `count` is at most
    /// [`SYNC_BLOCKS_PER_REQUEST_MAX`].
    Blocks {
        /// First height wanted.
        from: u64,
        /// How many blocks, at most.
        count: u32,
    },
}

impl SyncRequest {
    /// A short name for logs and metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            SyncRequest::Status => "status",
            SyncRequest::Blocks { .. } => "blocks",
        }
    }
}

/// A sync response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncResponse {
    /// Answer to [`SyncRequest::Status`].
    Status(Status),
    /// Answer to [`SyncRequest::Blocks`]: opaque encoded block + certificate
    /// each, consecutive, in height order from the requested height. May hold
    /// fewer blocks than asked (the responder's head, or the response limit).
    Blocks(Vec<Vec<u8>>),
    /// The responder could not answer; the text says why.
    Error(String),
}

/// What a peer says about its chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// The peer's chain id.
    pub chain_id: u64,
    /// Hash of the peer's genesis block.
    pub genesis_hash: [u8; 32],
    /// The peer's highest finalized height.
    pub head: u64,
}

/// Largest request body: a tag, a height and a count.
const REQUEST_BYTES_MAX: usize = 64;
/// Largest error text in a response.
pub(crate) const ERROR_TEXT_BYTES_MAX: usize = 1024;
/// Reads grow their buffer by at most this much before bytes arrive.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// Bytes of a [`SyncResponse::Blocks`] body before its blocks: tag and count.
pub(crate) const BLOCKS_HEADER_BYTES: usize = 1 + 4;
/// Bytes a block costs in a response besides its own: its length.
pub(crate) const BLOCK_OVERHEAD_BYTES: usize = 4;

const TAG_STATUS: u8 = 0;
const TAG_BLOCKS: u8 = 1;
const TAG_ERROR: u8 = 2;

/// The name of the sync protocol of `chain_id`.
pub(crate) fn protocol_name(chain_id: u64) -> String {
    format!("/outrigger/{chain_id}/sync/1")
}

/// A request as read from a peer: one we understood, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WireRequest {
    Valid(SyncRequest),
    /// Undecodable or oversized: the sender is penalized and answered with
    /// an error.
    Malformed(String),
}

/// Request-response codec for [`SyncRequest`] / [`SyncResponse`] with a
/// response size limit enforced when reading and when writing.
#[derive(Debug, Clone)]
pub(crate) struct SyncCodec {
    pub(crate) response_bytes_max: usize,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Reads one frame of at most `max` body bytes.
async fn read_frame<T>(io: &mut T, max: usize, what: &str) -> io::Result<Vec<u8>>
where
    T: AsyncRead + Unpin + Send,
{
    let mut prefix = [0u8; 4];
    io.read_exact(&mut prefix).await?;
    let len = u32::from_be_bytes(prefix) as usize;
    if len > max {
        return Err(invalid(format!(
            "{what} of {len} bytes exceeds the limit of {max} bytes"
        )));
    }
    let mut body = Vec::with_capacity(len.min(READ_CHUNK_BYTES));
    (&mut *io).take(len as u64).read_to_end(&mut body).await?;
    if body.len() != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("{what} ended after {} of {len} bytes", body.len()),
        ));
    }
    Ok(body)
}

async fn write_frame<T>(io: &mut T, body: &[u8], max: usize, what: &str) -> io::Result<()>
where
    T: AsyncWrite + Unpin + Send,
{
    if body.len() > max {
        return Err(invalid(format!(
            "{what} of {} bytes exceeds the limit of {max} bytes",
            body.len()
        )));
    }
    let len = u32::try_from(body.len())
        .map_err(|_| invalid(format!("{what} of {} bytes is too long", body.len())))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(body).await?;
    io.flush().await
}

/// A cursor over a received body that fails instead of panicking.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> io::Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(invalid(format!(
                "truncated: wanted {n} bytes, {} left",
                self.buf.len()
            )));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> io::Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> io::Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> io::Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn finish(self) -> io::Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(invalid(format!("{} trailing bytes", self.buf.len())))
        }
    }
}

pub(crate) fn encode_request(request: &SyncRequest) -> Vec<u8> {
    match request {
        SyncRequest::Status => vec![TAG_STATUS],
        SyncRequest::Blocks { from, count } => {
            let mut body = Vec::with_capacity(13);
            body.push(TAG_BLOCKS);
            body.extend_from_slice(&from.to_be_bytes());
            body.extend_from_slice(&count.to_be_bytes());
            body
        }
    }
}

pub(crate) fn decode_request(body: &[u8]) -> io::Result<SyncRequest> {
    let mut r = Reader { buf: body };
    let request = match r.u8()? {
        TAG_STATUS => SyncRequest::Status,
        TAG_BLOCKS => {
            let from = r.u64()?;
            let count = r.u32()?;
            if count > SYNC_BLOCKS_PER_REQUEST_MAX {
                return Err(invalid(format!(
                    "blocks request for {count} blocks exceeds the limit of {SYNC_BLOCKS_PER_REQUEST_MAX}"
                )));
            }
            SyncRequest::Blocks { from, count }
        }
        tag => return Err(invalid(format!("unknown request tag {tag}"))),
    };
    r.finish()?;
    Ok(request)
}

/// Bytes of the body of `response`, computed without encoding it.
pub(crate) fn response_body_len(response: &SyncResponse) -> usize {
    match response {
        SyncResponse::Status(_) => 1 + 8 + 32 + 8,
        SyncResponse::Blocks(blocks) => {
            BLOCKS_HEADER_BYTES
                + blocks
                    .iter()
                    .map(|b| BLOCK_OVERHEAD_BYTES + b.len())
                    .sum::<usize>()
        }
        SyncResponse::Error(text) => 1 + 4 + text.len(),
    }
}

pub(crate) fn encode_response(response: &SyncResponse) -> io::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(response_body_len(response));
    match response {
        SyncResponse::Status(status) => {
            body.push(TAG_STATUS);
            body.extend_from_slice(&status.chain_id.to_be_bytes());
            body.extend_from_slice(&status.genesis_hash);
            body.extend_from_slice(&status.head.to_be_bytes());
        }
        SyncResponse::Blocks(blocks) => {
            body.push(TAG_BLOCKS);
            let n = u32::try_from(blocks.len())
                .map_err(|_| invalid(format!("{} blocks in one response", blocks.len())))?;
            body.extend_from_slice(&n.to_be_bytes());
            for block in blocks {
                let len = u32::try_from(block.len())
                    .map_err(|_| invalid(format!("block of {} bytes", block.len())))?;
                body.extend_from_slice(&len.to_be_bytes());
                body.extend_from_slice(block);
            }
        }
        SyncResponse::Error(text) => {
            // Cut on a char boundary so the text stays valid UTF-8.
            let mut end = text.len().min(ERROR_TEXT_BYTES_MAX);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            body.push(TAG_ERROR);
            body.extend_from_slice(&(end as u32).to_be_bytes());
            body.extend_from_slice(&text.as_bytes()[..end]);
        }
    }
    Ok(body)
}

pub(crate) fn decode_response(body: &[u8]) -> io::Result<SyncResponse> {
    let mut r = Reader { buf: body };
    let response = match r.u8()? {
        TAG_STATUS => SyncResponse::Status(Status {
            chain_id: r.u64()?,
            genesis_hash: r.array()?,
            head: r.u64()?,
        }),
        TAG_BLOCKS => {
            let n = r.u32()?;
            if n > SYNC_BLOCKS_PER_REQUEST_MAX {
                return Err(invalid(format!(
                    "response with {n} blocks exceeds the limit of {SYNC_BLOCKS_PER_REQUEST_MAX}"
                )));
            }
            let mut blocks = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let len = r.u32()? as usize;
                blocks.push(r.bytes(len)?.to_vec());
            }
            SyncResponse::Blocks(blocks)
        }
        TAG_ERROR => {
            let len = r.u32()? as usize;
            if len > ERROR_TEXT_BYTES_MAX {
                return Err(invalid(format!("error text of {len} bytes")));
            }
            let text = std::str::from_utf8(r.bytes(len)?)
                .map_err(|e| invalid(format!("error text is not UTF-8: {e}")))?;
            SyncResponse::Error(text.to_owned())
        }
        tag => return Err(invalid(format!("unknown response tag {tag}"))),
    };
    r.finish()?;
    Ok(response)
}

impl libp2p::request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = WireRequest;
    type Response = SyncResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<WireRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        // Bad content is a value, not an error: libp2p does not report
        // failed request reads, and we want to make the sender pay.
        match read_frame(io, REQUEST_BYTES_MAX, "sync request").await {
            Ok(body) => Ok(match decode_request(&body) {
                Ok(request) => WireRequest::Valid(request),
                Err(e) => WireRequest::Malformed(e.to_string()),
            }),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                Ok(WireRequest::Malformed(e.to_string()))
            }
            Err(e) => Err(e),
        }
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        let body = read_frame(io, self.response_bytes_max, "sync response").await?;
        decode_response(&body)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: WireRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let WireRequest::Valid(request) = request else {
            return Err(invalid("refusing to send a malformed request".into()));
        };
        let body = encode_request(&request);
        write_frame(io, &body, REQUEST_BYTES_MAX, "sync request").await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: SyncResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let body = encode_response(&response)?;
        write_frame(io, &body, self.response_bytes_max, "sync response").await
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use libp2p::request_response::Codec;

    use super::*;

    fn protocol() -> StreamProtocol {
        StreamProtocol::new("/outrigger/7/sync/1")
    }

    fn round_trip_response(response: SyncResponse, max: usize) -> io::Result<SyncResponse> {
        let mut codec = SyncCodec {
            response_bytes_max: usize::MAX,
        };
        let mut wire = Vec::new();
        block_on(codec.write_response(&protocol(), &mut wire, response))?;
        let mut reader = SyncCodec {
            response_bytes_max: max,
        };
        block_on(reader.read_response(&protocol(), &mut wire.as_slice()))
    }

    #[test]
    fn requests_round_trip() {
        for request in [
            SyncRequest::Status,
            SyncRequest::Blocks {
                from: u64::MAX - 3,
                count: SYNC_BLOCKS_PER_REQUEST_MAX,
            },
        ] {
            let mut codec = SyncCodec {
                response_bytes_max: 1024,
            };
            let mut wire = Vec::new();
            let valid = WireRequest::Valid(request);
            block_on(codec.write_request(&protocol(), &mut wire, valid.clone())).unwrap();
            let back = block_on(codec.read_request(&protocol(), &mut wire.as_slice())).unwrap();
            assert_eq!(back, valid);
        }
    }

    #[test]
    fn responses_round_trip_and_sizes_are_exact() {
        let responses = [
            SyncResponse::Status(Status {
                chain_id: 7,
                genesis_hash: [9; 32],
                head: 1042,
            }),
            SyncResponse::Blocks(vec![vec![1, 2, 3], vec![], vec![4; 1000]]),
            SyncResponse::Error("block #1042 not found".into()),
        ];
        for response in responses {
            let body = encode_response(&response).unwrap();
            assert_eq!(body.len(), response_body_len(&response));
            assert_eq!(
                round_trip_response(response.clone(), 1 << 20).unwrap(),
                response
            );
        }
    }

    #[test]
    fn a_response_over_the_limit_is_refused_before_its_body_is_read() {
        let response = SyncResponse::Blocks(vec![vec![0; 10_000]]);
        let err = round_trip_response(response, 9_000).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("exceeds the limit"), "{err}");

        // A frame announcing 4 GiB with 4 bytes behind it is refused at once.
        let wire = [0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4];
        let mut codec = SyncCodec {
            response_bytes_max: 16 << 20,
        };
        let err = block_on(codec.read_response(&protocol(), &mut wire.as_slice())).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn writing_a_response_over_the_limit_fails() {
        let mut codec = SyncCodec {
            response_bytes_max: 100,
        };
        let mut wire = Vec::new();
        let err = block_on(codec.write_response(
            &protocol(),
            &mut wire,
            SyncResponse::Blocks(vec![vec![0; 200]]),
        ))
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(wire.is_empty());
    }

    #[test]
    fn malformed_bodies_are_errors() {
        // Too many blocks asked.
        let mut body = encode_request(&SyncRequest::Blocks { from: 1, count: 1 });
        body[9..13].copy_from_slice(&(SYNC_BLOCKS_PER_REQUEST_MAX + 1).to_be_bytes());
        assert!(decode_request(&body).is_err());
        // Trailing bytes, unknown tag, empty body, truncation.
        assert!(decode_request(&[TAG_STATUS, 0]).is_err());
        assert!(decode_request(&[9]).is_err());
        assert!(decode_request(&[]).is_err());
        assert!(decode_request(&[TAG_BLOCKS, 0, 0]).is_err());
        // A block whose length points past the body.
        let mut body = vec![TAG_BLOCKS];
        body.extend_from_slice(&1u32.to_be_bytes());
        body.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(decode_response(&body).is_err());
        // A block count over the cap.
        let mut body = vec![TAG_BLOCKS];
        body.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(decode_response(&body).is_err());
        // An error text that is not UTF-8.
        let mut body = vec![TAG_ERROR];
        body.extend_from_slice(&2u32.to_be_bytes());
        body.extend_from_slice(&[0xff, 0xfe]);
        assert!(decode_response(&body).is_err());
        // A truncated frame.
        let wire = [0, 0, 0, 10, TAG_STATUS];
        let mut codec = SyncCodec {
            response_bytes_max: 100,
        };
        let err = block_on(codec.read_response(&protocol(), &mut wire.as_slice())).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn malformed_and_oversized_requests_are_read_as_malformed() {
        let mut codec = SyncCodec {
            response_bytes_max: 100,
        };
        for wire in [
            vec![0, 0, 0, 3, 9, 9, 9],
            vec![0xff, 0xff, 0xff, 0xff, 0],
            vec![0, 0, 0, 2, TAG_STATUS, 0],
        ] {
            let read = block_on(codec.read_request(&protocol(), &mut wire.as_slice())).unwrap();
            assert!(matches!(read, WireRequest::Malformed(_)), "{read:?}");
        }
        // A stream that ends early is an I/O error, not the peer's content.
        let wire = [0, 0, 0, 13, TAG_BLOCKS];
        assert!(block_on(codec.read_request(&protocol(), &mut wire.as_slice())).is_err());
        // Malformed requests are never sent.
        let mut wire = Vec::new();
        let malformed = WireRequest::Malformed("x".into());
        assert!(block_on(codec.write_request(&protocol(), &mut wire, malformed)).is_err());
    }

    #[test]
    fn long_error_texts_are_cut_on_a_char_boundary() {
        let text = "é".repeat(ERROR_TEXT_BYTES_MAX);
        let back = round_trip_response(SyncResponse::Error(text), 1 << 20).unwrap();
        let SyncResponse::Error(back) = back else {
            panic!("not an error: {back:?}")
        };
        assert!(back.len() <= ERROR_TEXT_BYTES_MAX && back.chars().all(|c| c == 'é'));
    }
}

/// Fuzz target `sync_codec` (see `outrigger-fuzz`): block sync's framing
/// and bodies as a hostile peer sends them. Never a panic; a frame over
/// the limit is refused; what decodes encodes back to the same bytes.
#[cfg(test)]
mod fuzz {
    use futures::executor::block_on;
    use libp2p::request_response::Codec;
    use outrigger_fuzz::{Fuzzer, outcome};

    use super::*;

    fn sync_codec(input: &[u8]) -> u64 {
        let Some((&selector, bytes)) = input.split_first() else {
            return 0;
        };
        let protocol = StreamProtocol::new("/outrigger/7/sync/1");
        match selector % 4 {
            0 => match decode_request(bytes) {
                Ok(request) => {
                    assert_eq!(encode_request(&request), bytes);
                    outcome(request.kind())
                }
                Err(e) => outcome(("request", e.kind())),
            },
            1 => match decode_response(bytes) {
                Ok(response) => {
                    assert_eq!(encode_response(&response).expect("encodes"), bytes);
                    assert_eq!(response_body_len(&response), bytes.len());
                    outcome(std::mem::discriminant(&response))
                }
                Err(e) => outcome(("response", e.kind())),
            },
            2 => {
                let mut codec = SyncCodec {
                    response_bytes_max: 1024,
                };
                let mut wire = bytes;
                match block_on(codec.read_request(&protocol, &mut wire)) {
                    Ok(WireRequest::Valid(request)) => outcome(("framed", request.kind())),
                    Ok(WireRequest::Malformed(_)) => outcome("framed malformed"),
                    Err(e) => outcome(("framed request", e.kind())),
                }
            }
            _ => {
                // The limit is the input's to pick too, as configs differ.
                let max = bytes.first().map_or(0, |b| usize::from(*b) * 16);
                let mut codec = SyncCodec {
                    response_bytes_max: max,
                };
                let mut wire = bytes.get(1..).unwrap_or_default();
                match block_on(codec.read_response(&protocol, &mut wire)) {
                    Ok(response) => {
                        let body = encode_response(&response).expect("encodes");
                        assert!(
                            body.len() <= max,
                            "a {}-byte body over the {max} limit",
                            body.len()
                        );
                        outcome(("framed", std::mem::discriminant(&response)))
                    }
                    Err(e) => outcome(("framed response", e.kind())),
                }
            }
        }
    }

    #[test]
    fn fuzz_sync_codec() {
        // Seeds in code: the wire format is small and fixed.
        let mut seeds = Vec::new();
        for request in [
            SyncRequest::Status,
            SyncRequest::Blocks { from: 9, count: 4 },
        ] {
            let body = encode_request(&request);
            seeds.push([&[0u8][..], &body].concat());
            seeds.push([&[2u8][..], &(body.len() as u32).to_be_bytes(), &body].concat());
        }
        for response in [
            SyncResponse::Status(Status {
                chain_id: 7,
                genesis_hash: [1; 32],
                head: 40,
            }),
            SyncResponse::Blocks(vec![vec![0xc0; 3], vec![]]),
            SyncResponse::Error("block #9 not found".into()),
        ] {
            let body = encode_response(&response).expect("encodes");
            seeds.push([&[1u8][..], &body].concat());
            seeds.push([&[3u8, 16][..], &(body.len() as u32).to_be_bytes(), &body].concat());
        }
        Fuzzer::new("sync_codec")
            .seeds(seeds)
            .max_len(2048)
            .run(sync_codec);
    }
}
