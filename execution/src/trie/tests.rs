use std::collections::{BTreeMap, HashMap};

use alloy_primitives::{B256, keccak256};
use alloy_trie::{HashBuilder, Nibbles as RefNibbles, proof::verify_proof};
use proptest::prelude::*;

use super::*;

/// Nodes in memory, keyed by path, as the store keeps them in RocksDB.
#[derive(Default)]
struct MemNodes(HashMap<Nibbles, Vec<u8>>);

impl NodeReader for &MemNodes {
    fn node(&self, path: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
        Ok(self.0.get(path).cloned())
    }
}

impl MemNodes {
    fn apply(&mut self, updates: TrieUpdates) {
        if updates.wipe {
            self.0.clear();
        }
        for path in updates.deletes {
            self.0.remove(&path);
        }
        for (path, rlp) in updates.puts {
            self.0.insert(path, rlp);
        }
    }
}

/// The root computed from scratch by alloy's independent implementation.
fn reference_root(entries: &BTreeMap<Vec<u8>, Vec<u8>>) -> B256 {
    let mut builder = HashBuilder::default();
    for (key, value) in entries {
        builder.add_leaf(RefNibbles::unpack(key), value);
    }
    builder.root()
}

#[test]
fn empty_trie_has_the_empty_root() {
    let nodes = MemNodes::default();
    let mut trie = Trie::new(&nodes, EMPTY_ROOT_HASH);
    assert_eq!(trie.root(), EMPTY_ROOT_HASH);
    let (root, updates) = trie.commit();
    assert_eq!(root, EMPTY_ROOT_HASH);
    assert!(updates.is_empty());
}

#[test]
fn known_root_of_small_trie() {
    // From the Ethereum wiki's Patricia tree page: do/dog/doge/horse.
    let nodes = MemNodes::default();
    let mut trie = Trie::new(&nodes, EMPTY_ROOT_HASH);
    for (k, v) in [
        ("do", "verb"),
        ("dog", "puppy"),
        ("doge", "coin"),
        ("horse", "stallion"),
    ] {
        trie.insert(k.as_bytes(), v.as_bytes().to_vec()).unwrap();
    }
    assert_eq!(
        trie.root(),
        "0x5991bb8c6514148a29db676a14ac506cd2cd5775ace63c30a4fe457715e9ac84"
            .parse::<B256>()
            .unwrap()
    );
}

#[test]
fn root_then_commit_writes_everything_and_reopens() {
    let mut nodes = MemNodes::default();
    let mut trie = Trie::new(&nodes, EMPTY_ROOT_HASH);
    let mut reference = BTreeMap::new();
    for i in 0u32..200 {
        let key = keccak256(i.to_be_bytes()).to_vec();
        let value = vec![1u8; 40];
        trie.insert(&key, value.clone()).unwrap();
        reference.insert(key, value);
    }
    let early = trie.root();
    let (root, updates) = trie.commit();
    assert_eq!(early, root);
    assert_eq!(root, reference_root(&reference));
    nodes.apply(updates);
    let mut reopened = Trie::new(&nodes, root);
    for (key, value) in &reference {
        assert_eq!(reopened.get(key).unwrap().as_ref(), Some(value));
    }
    // Reading changes nothing on disk.
    let (again, updates) = reopened.commit();
    assert_eq!(again, root);
    assert!(updates.is_empty(), "{updates:?}");
}

#[test]
fn deleting_everything_returns_to_the_empty_root_and_empties_storage() {
    let mut nodes = MemNodes::default();
    let keys: Vec<Vec<u8>> = (0u8..50).map(|i| keccak256([i]).to_vec()).collect();
    let mut trie = Trie::new(&nodes, EMPTY_ROOT_HASH);
    for key in &keys {
        trie.insert(key, vec![7; 33]).unwrap();
    }
    let (root, updates) = trie.commit();
    nodes.apply(updates);
    let mut trie = Trie::new(&nodes, root);
    for key in &keys {
        trie.remove(key).unwrap();
    }
    let (root, updates) = trie.commit();
    assert_eq!(root, EMPTY_ROOT_HASH);
    nodes.apply(updates);
    assert!(nodes.0.is_empty(), "{} nodes left behind", nodes.0.len());
}

#[test]
fn corrupt_node_is_an_error_not_a_wrong_root() {
    let mut nodes = MemNodes::default();
    let mut trie = Trie::new(&nodes, EMPTY_ROOT_HASH);
    for i in 0u8..20 {
        trie.insert(keccak256([i]).as_slice(), vec![i + 1; 40])
            .unwrap();
    }
    let (root, updates) = trie.commit();
    nodes.apply(updates);
    let victim = nodes.0.keys().find(|p| p.len() == 1).unwrap().clone();
    nodes.0.get_mut(&victim).unwrap()[5] ^= 1;
    let mut trie = Trie::new(&nodes, root);
    let mut key = vec![victim[0] << 4];
    key.resize(32, 0);
    let err = (0u8..20)
        .map(|i| trie.get(keccak256([i]).as_slice()))
        .find_map(Result::err)
        .expect("reading through the corrupted node fails");
    assert!(matches!(err, TrieError::HashMismatch { .. }), "{err}");
}

/// [`MemNodes`] that counts its reads.
struct Counting<'a> {
    nodes: &'a MemNodes,
    single: std::cell::Cell<usize>,
    batches: std::cell::RefCell<Vec<usize>>,
}

impl NodeReader for &Counting<'_> {
    fn node(&self, path: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
        self.single.set(self.single.get() + 1);
        Ok(self.nodes.0.get(path).cloned())
    }

    fn nodes(&self, paths: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, TrieError> {
        self.batches.borrow_mut().push(paths.len());
        Ok(paths
            .iter()
            .map(|p| self.nodes.0.get(*p).cloned())
            .collect())
    }
}

fn stored_trie(count: u32) -> (MemNodes, B256, Vec<Vec<u8>>) {
    let mut nodes = MemNodes::default();
    let keys: Vec<Vec<u8>> = (0..count)
        .map(|i| keccak256(i.to_be_bytes()).to_vec())
        .collect();
    let mut trie = Trie::new(&nodes, EMPTY_ROOT_HASH);
    for key in &keys {
        trie.insert(key, vec![3; 40]).unwrap();
    }
    let (root, updates) = trie.commit();
    nodes.apply(updates);
    (nodes, root, keys)
}

#[test]
fn prefetch_loads_each_level_in_one_batch_and_updates_then_read_nothing() {
    let (nodes, root, keys) = stored_trie(3000);
    let counting = Counting {
        nodes: &nodes,
        single: Default::default(),
        batches: Default::default(),
    };
    let changed: Vec<Vec<u8>> = keys.iter().step_by(7).cloned().collect();
    let mut trie = Trie::new(&counting, root);
    let absent = keccak256(b"absent").to_vec();
    let values = trie
        .prefetch(&[&changed[..], std::slice::from_ref(&absent)].concat())
        .unwrap();
    assert_eq!(values.len(), changed.len() + 1);
    assert!(
        values[..changed.len()]
            .iter()
            .all(|v| *v == Some(vec![3; 40]))
    );
    assert_eq!(values[changed.len()], None);
    // 3,000 keys: a root branch, two full levels below it, then leaves
    // (and a few deeper branches): one batch per level.
    let batches = counting.batches.borrow().clone();
    assert!((3..=6).contains(&batches.len()), "{batches:?}");
    assert_eq!(batches[..2], [1, 16]);
    for key in &changed {
        assert_eq!(trie.get(key).unwrap(), Some(vec![3; 40]));
        trie.insert(key, vec![4; 40]).unwrap();
    }
    assert_eq!(counting.single.get(), 0, "every changed path was in memory");
    let (prefetched_root, _) = trie.commit();

    let mut plain = Trie::new(&nodes, root);
    for key in &changed {
        plain.insert(key, vec![4; 40]).unwrap();
    }
    assert_eq!(prefetched_root, plain.commit().0);
}

#[test]
fn prefetch_follows_extensions_and_keys_ending_at_a_branch() {
    // Keys of different lengths: "do" ends at the branch under "do", which
    // hangs below an extension; every node here is stored by hash.
    let entries: Vec<(&[u8], Vec<u8>)> = vec![
        (b"do", vec![1; 40]),
        (b"dog", vec![2; 40]),
        (b"doge", vec![3; 40]),
        (b"horse", vec![4; 40]),
        (b"hors", vec![5; 40]),
    ];
    let mut nodes = MemNodes::default();
    let mut trie = Trie::new(&nodes, EMPTY_ROOT_HASH);
    for (key, value) in &entries {
        trie.insert(key, value.clone()).unwrap();
    }
    let (root, updates) = trie.commit();
    nodes.apply(updates);

    let counting = Counting {
        nodes: &nodes,
        single: Default::default(),
        batches: Default::default(),
    };
    let mut trie = Trie::new(&counting, root);
    let keys: Vec<&[u8]> = entries
        .iter()
        .map(|(k, _)| *k)
        .chain([&b"dot"[..]])
        .collect();
    let values = trie.prefetch(&keys).unwrap();
    let expected: Vec<Option<Vec<u8>>> = entries
        .iter()
        .map(|(_, v)| Some(v.clone()))
        .chain([None])
        .collect();
    assert_eq!(values, expected, "each key's value, \"dot\" absent");
    for (key, value) in &entries {
        assert_eq!(trie.get(key).unwrap().as_ref(), Some(value));
        trie.insert(key, vec![9; 40]).unwrap();
    }
    trie.insert(b"dot", vec![8; 40]).unwrap();
    assert_eq!(counting.single.get(), 0, "every path was loaded in batches");
    let (prefetched_root, _) = trie.commit();

    // alloy's builder takes no key that prefixes another: compare with
    // the same updates made node by node.
    let mut plain = Trie::new(&nodes, root);
    for (key, _) in &entries {
        plain.insert(key, vec![9; 40]).unwrap();
    }
    plain.insert(b"dot", vec![8; 40]).unwrap();
    assert_eq!(prefetched_root, plain.commit().0);
}

#[test]
fn prefetch_through_a_corrupt_node_fails_and_leaves_the_trie_usable() {
    let (mut nodes, root, keys) = stored_trie(300);
    let victim = nodes.0.keys().find(|p| p.len() == 2).unwrap().clone();
    nodes.0.get_mut(&victim).unwrap()[3] ^= 1;
    let mut trie = Trie::new(&nodes, root);
    let err = trie.prefetch(&keys).unwrap_err();
    assert!(
        matches!(err, TrieError::HashMismatch { ref path, .. } if *path == victim),
        "{err}"
    );
    // Keys away from the corrupt node still read and update.
    let elsewhere = keys
        .iter()
        .find(|k| node::to_nibbles(k)[..2] != victim[..])
        .unwrap();
    assert_eq!(trie.get(elsewhere).unwrap(), Some(vec![3; 40]));
    trie.insert(elsewhere, vec![5; 40]).unwrap();
    trie.commit();
}

#[derive(Debug, Clone)]
enum Op {
    Set(u16, Vec<u8>),
    Delete(u16),
    Commit,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u16..400, prop::collection::vec(any::<u8>(), 1..50)).prop_map(|(k, v)| Op::Set(k, v)),
        3 => (0u16..400).prop_map(Op::Delete),
        1 => Just(Op::Commit),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The incremental root, through commits to storage and reopening,
    /// always equals a from-scratch root; storage holds exactly the nodes of
    /// the current trie; proofs verify against the root.
    #[test]
    fn incremental_root_matches_from_scratch(ops in prop::collection::vec(op(), 1..300), short_keys: bool, prefetch: bool) {
        let key_of = |k: u16| -> Vec<u8> {
            if short_keys { k.to_be_bytes().to_vec() } else { keccak256(k.to_be_bytes()).to_vec() }
        };
        let mut nodes = MemNodes::default();
        let mut reference = BTreeMap::new();
        // The entries as of the last commit, which the trie is opened on.
        let mut committed = BTreeMap::new();
        let mut root = EMPTY_ROOT_HASH;
        let mut pending: Vec<Op> = Vec::new();
        for op in ops.into_iter().chain([Op::Commit]) {
            match op {
                Op::Commit => {
                    let mut trie = Trie::new(&nodes, root);
                    if prefetch {
                        let keys: Vec<Vec<u8>> = pending
                            .iter()
                            .filter_map(|op| match op {
                                Op::Set(k, _) | Op::Delete(k) => Some(key_of(*k)),
                                Op::Commit => None,
                            })
                            .collect();
                        let values = trie.prefetch(&keys).unwrap();
                        for (key, value) in keys.iter().zip(values) {
                            prop_assert_eq!(value, committed.get(key).cloned());
                        }
                    }
                    for op in pending.drain(..) {
                        match op {
                            Op::Set(k, v) => trie.insert(&key_of(k), v).unwrap(),
                            Op::Delete(k) => trie.remove(&key_of(k)).unwrap(),
                            Op::Commit => unreachable!(),
                        }
                    }
                    let (new_root, updates) = trie.commit();
                    root = new_root;
                    nodes.apply(updates);
                    prop_assert_eq!(root, reference_root(&reference));
                    committed = reference.clone();
                    // Storage holds exactly the current trie: rebuild it
                    // from scratch and compare the stored node sets.
                    let mut fresh = MemNodes::default();
                    let mut trie = Trie::new(&fresh, EMPTY_ROOT_HASH);
                    for (k, v) in &reference { trie.insert(k, v.clone()).unwrap(); }
                    let (_, updates) = trie.commit();
                    fresh.apply(updates);
                    prop_assert_eq!(&nodes.0, &fresh.0);
                }
                Op::Set(k, ref v) => { reference.insert(key_of(k), v.clone()); pending.push(op); }
                Op::Delete(k) => { reference.remove(&key_of(k)); pending.push(op); }
            }
        }
        // alloy's verifier compares the root node by reference, so it cannot
        // check a root shorter than 32 bytes, which only short keys produce;
        // state tries always have 32-byte keys.
        let checkable = !short_keys;
        for k in (0u16..400).step_by(37).filter(|_| checkable) {
            let key = key_of(k);
            let proof = proof::prove(&&nodes, root, &key).unwrap();
            let expected = reference.get(&key).cloned();
            prop_assert!(verify_proof(root, RefNibbles::unpack(&key), expected, &proof).is_ok());
        }
    }
}
