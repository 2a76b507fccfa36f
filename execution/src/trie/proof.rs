//! Merkle proofs: the stored nodes on the path from the root to a key, as
//! `eth_getProof` returns them (inline nodes travel inside their parent).

use alloy_primitives::{B256, Bytes};
use alloy_trie::EMPTY_ROOT_HASH;

use super::{
    NodeReader, TrieError,
    node::{self, DecodedChild, DecodedNode},
};

/// The proof for `key` (bytes; the secure tries pass its keccak) in the trie
/// with root `root`: each stored node on the way, root first. Proves absence
/// as well as presence.
pub fn prove(reader: &impl NodeReader, root: B256, key: &[u8]) -> Result<Vec<Bytes>, TrieError> {
    let mut proof = Vec::new();
    if root == EMPTY_ROOT_HASH {
        return Ok(proof);
    }
    let key = node::to_nibbles(key);
    let mut depth = 0;
    let mut next = DecodedChild::Hash(root);
    loop {
        let rlp = match next {
            DecodedChild::Empty => return Ok(proof),
            DecodedChild::Inline(rlp) => rlp,
            DecodedChild::Hash(hash) => {
                let rlp = super::load_node(reader, &key[..depth], hash)?;
                proof.push(Bytes::from(rlp.clone()));
                rlp
            }
        };
        next = match node::decode_node(&rlp)? {
            DecodedNode::Leaf { .. } => return Ok(proof),
            DecodedNode::Extension { key: shared, child } => {
                if !key[depth..].starts_with(&shared) {
                    return Ok(proof);
                }
                depth += shared.len();
                child
            }
            DecodedNode::Branch { children, .. } => {
                let Some(&nibble) = key.get(depth) else {
                    return Ok(proof);
                };
                depth += 1;
                let mut children = children;
                std::mem::take(&mut children[nibble as usize])
            }
        };
    }
}
