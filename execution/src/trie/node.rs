//! Merkle-Patricia trie nodes: their RLP encoding (Yellow Paper, appendix D)
//! and decoding, with hex-prefix encoded keys.

use alloy_primitives::{B256, keccak256};
use alloy_rlp::{Header, PayloadView};

use super::TrieError;

/// A path or key in nibbles (each byte holds one value in `0..16`).
pub type Nibbles = Vec<u8>;

/// Splits bytes into nibbles, high nibble first.
pub fn to_nibbles(bytes: &[u8]) -> Nibbles {
    bytes.iter().flat_map(|b| [b >> 4, b & 0x0f]).collect()
}

/// Joins an even number of nibbles back into bytes.
pub fn from_nibbles(nibbles: &[u8]) -> Vec<u8> {
    assert!(
        nibbles.len().is_multiple_of(2),
        "odd nibble count {}",
        nibbles.len()
    );
    nibbles
        .chunks(2)
        .map(|pair| (pair[0] << 4) | pair[1])
        .collect()
}

/// A reference to a child: nodes whose RLP is shorter than 32 bytes are
/// embedded in their parent, longer ones are referenced by their hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeRef {
    /// keccak256 of the node's RLP.
    Hash(B256),
    /// The node's RLP itself (fewer than 32 bytes).
    Inline(Vec<u8>),
}

impl NodeRef {
    /// The reference a parent uses for a node with this RLP.
    pub fn from_rlp(rlp: &[u8]) -> Self {
        if rlp.len() < 32 {
            Self::Inline(rlp.to_vec())
        } else {
            Self::Hash(keccak256(rlp))
        }
    }

    /// Appends this reference as an item of the parent's RLP list.
    fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Self::Hash(hash) => {
                out.push(0x80 + 32);
                out.extend_from_slice(hash.as_slice());
            }
            Self::Inline(rlp) => out.extend_from_slice(rlp),
        }
    }

    /// The length of [`NodeRef::encode_into`]'s output.
    fn length(&self) -> usize {
        match self {
            Self::Hash(_) => 33,
            Self::Inline(rlp) => rlp.len(),
        }
    }

    /// Whether the node is stored by itself (referenced by hash).
    pub fn is_hash(&self) -> bool {
        matches!(self, Self::Hash(_))
    }
}

/// Hex-prefix encoding of a key fragment (Yellow Paper, appendix C).
pub fn encode_path(nibbles: &[u8], leaf: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(nibbles.len() / 2 + 1);
    hex_prefix_into(nibbles, leaf, &mut out);
    out
}

/// Appends [`encode_path`]'s bytes to `out`.
fn hex_prefix_into(nibbles: &[u8], leaf: bool, out: &mut Vec<u8>) {
    let flag = if leaf { 2 } else { 0 };
    let rest = if nibbles.len() % 2 == 1 {
        out.push(((flag + 1) << 4) | nibbles[0]);
        &nibbles[1..]
    } else {
        out.push(flag << 4);
        nibbles
    };
    out.extend(rest.chunks(2).map(|pair| (pair[0] << 4) | pair[1]));
}

/// Decodes a hex-prefix key fragment: its nibbles and whether it ends in a leaf.
pub fn decode_path(bytes: &[u8]) -> Result<(Nibbles, bool), TrieError> {
    let first = *bytes
        .first()
        .ok_or(TrieError::Decode("empty hex-prefix path"))?;
    let flag = first >> 4;
    if flag > 3 {
        return Err(TrieError::Decode("bad hex-prefix flag"));
    }
    let mut nibbles = Vec::with_capacity(bytes.len() * 2);
    if flag & 1 == 1 {
        nibbles.push(first & 0x0f);
    } else if first & 0x0f != 0 {
        return Err(TrieError::Decode("bad hex-prefix padding"));
    }
    nibbles.extend(to_nibbles(&bytes[1..]));
    Ok((nibbles, flag & 2 == 2))
}

/// Appends an RLP byte string.
pub fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    alloy_rlp::Encodable::encode(&bytes, out);
}

/// The length of `bytes` encoded as an RLP byte string.
fn bytes_length(bytes: &[u8]) -> usize {
    alloy_rlp::Encodable::length(&bytes)
}

/// A buffer holding just the header of a list of `payload` bytes, with
/// room for them: each node is encoded into one allocation.
fn list_with_capacity(payload: usize) -> Vec<u8> {
    let header = Header {
        list: true,
        payload_length: payload,
    };
    let mut out = Vec::with_capacity(header.length_with_payload());
    header.encode(&mut out);
    out
}

/// The RLP string header of the hex-prefix key of `nibbles`, if it has
/// one: a single byte below 0x80 is its own encoding, and a hex-prefix
/// first byte is at most 0x3f.
fn path_header(nibbles: &[u8]) -> Option<Header> {
    let length = nibbles.len() / 2 + 1;
    (length > 1).then_some(Header {
        list: false,
        payload_length: length,
    })
}

/// Appends the hex-prefix key fragment `nibbles` as an RLP byte string
/// (the same bytes as [`encode_bytes`] of [`encode_path`]).
fn encode_path_into(nibbles: &[u8], leaf: bool, out: &mut Vec<u8>) {
    if let Some(header) = path_header(nibbles) {
        header.encode(out);
    }
    hex_prefix_into(nibbles, leaf, out);
}

/// The length of [`encode_path_into`]'s output.
fn path_length(nibbles: &[u8]) -> usize {
    path_header(nibbles).map_or(1, |header| header.length_with_payload())
}

/// RLP of a leaf node.
pub fn encode_leaf(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = list_with_capacity(path_length(key) + bytes_length(value));
    encode_path_into(key, true, &mut out);
    encode_bytes(value, &mut out);
    out
}

/// RLP of an extension node.
pub fn encode_extension(key: &[u8], child: &NodeRef) -> Vec<u8> {
    let mut out = list_with_capacity(path_length(key) + child.length());
    encode_path_into(key, false, &mut out);
    child.encode_into(&mut out);
    out
}

/// RLP of a branch node.
pub fn encode_branch(children: &[Option<NodeRef>; 16], value: Option<&[u8]>) -> Vec<u8> {
    let value = value.unwrap_or_default();
    let payload = children
        .iter()
        .map(|child| child.as_ref().map_or(1, NodeRef::length))
        .sum::<usize>()
        + bytes_length(value);
    let mut out = list_with_capacity(payload);
    for child in children {
        match child {
            Some(child) => child.encode_into(&mut out),
            None => out.push(0x80),
        }
    }
    encode_bytes(value, &mut out);
    out
}

/// A node decoded from RLP, its children still as references.
#[derive(Debug)]
pub enum DecodedNode {
    /// A leaf: the rest of the key and the value.
    Leaf {
        /// The key's remaining nibbles.
        key: Nibbles,
        /// The stored value.
        value: Vec<u8>,
    },
    /// An extension: a shared key fragment and one child.
    Extension {
        /// The shared nibbles.
        key: Nibbles,
        /// The child, always a branch.
        child: DecodedChild,
    },
    /// A branch: sixteen children and an optional value.
    Branch {
        /// The children by nibble.
        children: Box<[DecodedChild; 16]>,
        /// A value ending exactly here (never in the secure tries of the state).
        value: Option<Vec<u8>>,
    },
}

/// A child reference inside a decoded node.
#[derive(Debug, Default)]
pub enum DecodedChild {
    /// No child.
    #[default]
    Empty,
    /// A child stored by itself, referenced by hash.
    Hash(B256),
    /// A child embedded in its parent, with its own RLP.
    Inline(Vec<u8>),
}

fn decode_child(item: &[u8]) -> Result<DecodedChild, TrieError> {
    let mut buf = item;
    let header = Header::decode(&mut buf).map_err(|_| TrieError::Decode("bad child"))?;
    if header.list {
        return Ok(DecodedChild::Inline(item.to_vec()));
    }
    match buf.len() {
        0 => Ok(DecodedChild::Empty),
        32 => Ok(DecodedChild::Hash(B256::from_slice(buf))),
        _ => Err(TrieError::Decode(
            "child reference is neither empty, inline nor a hash",
        )),
    }
}

fn decode_string(item: &[u8]) -> Result<Vec<u8>, TrieError> {
    let mut buf = item;
    let header = Header::decode(&mut buf).map_err(|_| TrieError::Decode("bad string"))?;
    if header.list {
        return Err(TrieError::Decode("expected a string, found a list"));
    }
    Ok(buf.to_vec())
}

/// Decodes a node's RLP.
pub fn decode_node(rlp: &[u8]) -> Result<DecodedNode, TrieError> {
    let mut buf = rlp;
    let items = match Header::decode_raw(&mut buf) {
        Ok(PayloadView::List(items)) if buf.is_empty() => items,
        _ => return Err(TrieError::Decode("node is not a single RLP list")),
    };
    match items.len() {
        2 => {
            let (key, leaf) = decode_path(&decode_string(items[0])?)?;
            if leaf {
                Ok(DecodedNode::Leaf {
                    key,
                    value: decode_string(items[1])?,
                })
            } else {
                if key.is_empty() {
                    return Err(TrieError::Decode("extension with an empty key"));
                }
                Ok(DecodedNode::Extension {
                    key,
                    child: decode_child(items[1])?,
                })
            }
        }
        17 => {
            let mut children: [DecodedChild; 16] = Default::default();
            for (slot, item) in children.iter_mut().zip(&items) {
                *slot = decode_child(item)?;
            }
            let value = decode_string(items[16])?;
            let value = if value.is_empty() { None } else { Some(value) };
            Ok(DecodedNode::Branch {
                children: Box::new(children),
                value,
            })
        }
        _ => Err(TrieError::Decode("node list has neither 2 nor 17 items")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_prefix_round_trips() {
        for (nibbles, leaf) in [
            (vec![], true),
            (vec![1], false),
            (vec![1, 2, 3], true),
            (vec![0, 15, 1, 12], false),
        ] {
            let encoded = encode_path(&nibbles, leaf);
            assert_eq!(decode_path(&encoded).unwrap(), (nibbles, leaf));
        }
        // Yellow Paper examples.
        assert_eq!(encode_path(&[1, 2, 3, 4, 5], false), vec![0x11, 0x23, 0x45]);
        assert_eq!(
            encode_path(&[0, 1, 2, 3, 4, 5], false),
            vec![0x00, 0x01, 0x23, 0x45]
        );
        assert_eq!(
            encode_path(&[0, 15, 1, 12, 11, 8], true),
            vec![0x20, 0x0f, 0x1c, 0xb8]
        );
        assert_eq!(
            encode_path(&[15, 1, 12, 11, 8], true),
            vec![0x3f, 0x1c, 0xb8]
        );
    }

    #[test]
    fn nodes_are_encoded_in_one_buffer_of_their_exact_length() {
        for len in 0..=64 {
            let nibbles: Vec<u8> = (0..len).map(|i| (i * 7 % 16) as u8).collect();
            for leaf in [false, true] {
                let mut expected = Vec::new();
                encode_bytes(&encode_path(&nibbles, leaf), &mut expected);
                let mut out = Vec::new();
                encode_path_into(&nibbles, leaf, &mut out);
                assert_eq!(out, expected, "{len} nibbles, leaf {leaf}");
                assert_eq!(path_length(&nibbles), expected.len());
            }
            for value in [&[][..], &[0x05], &[0x80], &[7; 40], &[9; 70]] {
                let rlp = encode_leaf(&nibbles, value);
                assert_eq!(rlp.len(), rlp.capacity());
                match decode_node(&rlp).unwrap() {
                    DecodedNode::Leaf {
                        key,
                        value: decoded,
                    } => {
                        assert_eq!((key, &decoded[..]), (nibbles.clone(), value));
                    }
                    other => panic!("decoded {other:?}"),
                }
            }
            if len > 0 {
                for child in [
                    NodeRef::Hash(B256::repeat_byte(3)),
                    NodeRef::Inline(encode_leaf(&[], b"x")),
                ] {
                    let rlp = encode_extension(&nibbles, &child);
                    assert_eq!(rlp.len(), rlp.capacity());
                    assert!(
                        matches!(decode_node(&rlp).unwrap(), DecodedNode::Extension { key, .. } if key == nibbles)
                    );
                }
            }
        }
        let mut children: [Option<NodeRef>; 16] = Default::default();
        children[0] = Some(NodeRef::Hash(B256::repeat_byte(1)));
        children[9] = Some(NodeRef::Inline(encode_leaf(&[2], b"y")));
        for value in [None, Some(&[0x01][..]), Some(&[0xff; 60][..])] {
            let rlp = encode_branch(&children, value);
            assert_eq!(rlp.len(), rlp.capacity());
            assert!(
                matches!(decode_node(&rlp).unwrap(), DecodedNode::Branch { value: v, .. } if v.as_deref() == value)
            );
        }
    }

    #[test]
    fn branch_and_leaf_round_trip() {
        let leaf = encode_leaf(&[1, 2, 3], b"value that is long enough to be hashed ok");
        let mut children: [Option<NodeRef>; 16] = Default::default();
        children[3] = Some(NodeRef::from_rlp(&leaf));
        children[7] = Some(NodeRef::Inline(encode_leaf(&[], b"x")));
        let branch = encode_branch(&children, Some(b"v"));
        match decode_node(&branch).unwrap() {
            DecodedNode::Branch { children, value } => {
                assert!(matches!(children[3], DecodedChild::Hash(_)));
                assert!(matches!(children[7], DecodedChild::Inline(_)));
                assert!(matches!(children[0], DecodedChild::Empty));
                assert_eq!(value.as_deref(), Some(&b"v"[..]));
            }
            other => panic!("decoded {other:?}"),
        }
    }
}
