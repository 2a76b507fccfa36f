//! The Ethereum Merkle-Patricia trie, stored by path and updated in place.
//!
//! Nodes live in the database keyed by their path from the root (the
//! "path-based" layout): a branch never moves, so an update loads and rewrites
//! only the nodes on the paths of the keys it changes. The work per block
//! grows with what the block changes, never with the size of the state.
//!
//! - [`node`]: node RLP encoding and decoding, hex-prefix keys.
//! - [`Trie`]: a partially loaded trie that takes inserts and deletes and
//!   yields its root and the node writes ([`TrieUpdates`]) for one batch.
//! - [`proof`]: Merkle proofs (`eth_getProof`) and their verification.

pub mod node;
pub mod proof;

use std::ops::Range;

use alloy_primitives::{B256, keccak256, map::HashSet};
use alloy_trie::EMPTY_ROOT_HASH;
use rayon::prelude::*;

use node::{DecodedChild, DecodedNode, Nibbles, NodeRef};

/// Errors of trie reads and updates.
#[derive(Debug, thiserror::Error)]
pub enum TrieError {
    /// A stored node is not valid RLP for a trie node.
    #[error("corrupt trie node: {0}")]
    Decode(&'static str),
    /// A node the trie references is missing from the database.
    #[error("trie node {hash} at path {path:?} is missing")]
    MissingNode {
        /// The node's hash.
        hash: B256,
        /// The node's path in nibbles.
        path: Nibbles,
    },
    /// A stored node's hash is not the one its parent references.
    #[error("trie node at path {path:?} has hash {found}, expected {expected}")]
    HashMismatch {
        /// The node's path in nibbles.
        path: Nibbles,
        /// The hash the parent references.
        expected: B256,
        /// The hash of the stored bytes.
        found: B256,
    },
    /// The database failed.
    #[error("trie database: {0}")]
    Database(String),
}

/// Reads the node stored at `path`, checking it is the one `hash` names.
pub(crate) fn load_node(
    reader: &impl NodeReader,
    path: &[u8],
    hash: B256,
) -> Result<Vec<u8>, TrieError> {
    check_node(path, hash, reader.node(path)?)
}

/// Checks that `stored`, read at `path`, is the node `hash` names.
fn check_node(path: &[u8], hash: B256, stored: Option<Vec<u8>>) -> Result<Vec<u8>, TrieError> {
    let rlp = stored.ok_or_else(|| TrieError::MissingNode {
        hash,
        path: path.to_vec(),
    })?;
    let found = keccak256(&rlp);
    if found != hash {
        return Err(TrieError::HashMismatch {
            path: path.to_vec(),
            expected: hash,
            found,
        });
    }
    Ok(rlp)
}

/// Reads stored nodes of one trie by path.
pub trait NodeReader {
    /// The RLP of the node stored at `path`, if any.
    fn node(&self, path: &[u8]) -> Result<Option<Vec<u8>>, TrieError>;

    /// The nodes stored at each of `paths`, in the same order. Readers
    /// that can batch lookups (or spread them over cores) override this.
    fn nodes(&self, paths: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, TrieError> {
        paths.iter().map(|path| self.node(path)).collect()
    }
}

/// A reader for a trie that has nothing stored (a new trie).
#[derive(Clone, Copy, Debug, Default)]
pub struct EmptyReader;

impl NodeReader for EmptyReader {
    fn node(&self, _path: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
        Ok(None)
    }
}

/// The node writes one update produces, to apply in one batch in order:
/// first `wipe` (drop every stored node of the trie), then `deletes`, then
/// `puts`.
#[derive(Debug, Default, Clone)]
pub struct TrieUpdates {
    /// Whether the whole stored trie is to be dropped first.
    pub wipe: bool,
    /// Paths whose stored node is gone.
    pub deletes: Vec<Nibbles>,
    /// Paths and RLP of new or changed stored nodes.
    pub puts: Vec<(Nibbles, Vec<u8>)>,
}

impl TrieUpdates {
    /// Whether applying these changes nothing.
    pub fn is_empty(&self) -> bool {
        !self.wipe && self.deletes.is_empty() && self.puts.is_empty()
    }
}

#[derive(Debug, Default)]
enum Child {
    #[default]
    Empty,
    /// Stored at its path and not loaded yet.
    Stored(B256),
    Node(Box<Node>),
}

#[derive(Debug)]
struct Node {
    kind: Kind,
    /// The reference to this node, kept while it is unchanged since it was
    /// loaded or last hashed.
    cached: Option<NodeRef>,
    /// Changed since it was loaded: to be written on commit.
    dirty: bool,
    /// The RLP of a changed node stored by hash, kept from hashing until
    /// it is written.
    rlp: Option<Vec<u8>>,
}

#[derive(Debug)]
enum Kind {
    Leaf {
        key: Nibbles,
        value: Vec<u8>,
    },
    Extension {
        key: Nibbles,
        child: Child,
    },
    Branch {
        children: Box<[Child; 16]>,
        value: Option<Vec<u8>>,
    },
}

impl Child {
    fn dirty(kind: Kind) -> Self {
        Self::Node(Box::new(Node {
            kind,
            cached: None,
            dirty: true,
            rlp: None,
        }))
    }
}

/// A Merkle-Patricia trie over a [`NodeReader`], loaded lazily along the
/// paths that are read or changed.
pub struct Trie<R> {
    reader: R,
    root: Child,
    /// Paths of stored nodes loaded so far: those no longer present after
    /// the update are deleted.
    loaded: HashSet<Nibbles>,
    wipe: bool,
    /// An update failed half-way (a node could not be read): the trie is
    /// no longer the one it was opened on and must be discarded.
    poisoned: bool,
}

impl<R: NodeReader> Trie<R> {
    /// Opens the trie whose root hash is `root` (the empty root for none).
    pub fn new(reader: R, root: B256) -> Self {
        let root = if root == EMPTY_ROOT_HASH {
            Child::Empty
        } else {
            Child::Stored(root)
        };
        Self {
            reader,
            root,
            loaded: HashSet::default(),
            wipe: false,
            poisoned: false,
        }
    }

    /// An empty trie that, when its updates are applied, first drops every
    /// node stored for it (a storage trie whose account was destroyed).
    pub fn wiped(reader: R) -> Self {
        Self {
            reader,
            root: Child::Empty,
            loaded: HashSet::default(),
            wipe: true,
            poisoned: false,
        }
    }

    /// Loads every stored node on the paths of `keys` (in bytes), a level
    /// at a time, and returns each key's value, as [`Trie::get`] would:
    /// one batched read per level, the hash checks and decoding spread
    /// over the cores. Inserts and removes of those keys then find their
    /// paths in memory instead of reading node after node. Worth it for
    /// many keys spread over a large trie (a block's account changes).
    ///
    /// Each level's wanted nodes are found from the nodes loaded at the
    /// level above, each with the run of sorted keys that leads through it,
    /// so no key is walked from the root again, and each key's value is
    /// picked up on the way; the loaded levels are then joined bottom-up
    /// and hung into the trie.
    ///
    /// On failure the trie holds the same entries and stays usable; only
    /// nodes that passed their hash check were put in.
    pub fn prefetch(
        &mut self,
        keys: &[impl AsRef<[u8]>],
    ) -> Result<Vec<Option<Vec<u8>>>, TrieError> {
        let mut sorted: Vec<(Nibbles, usize)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (node::to_nibbles(k.as_ref()), i))
            .collect();
        sorted.sort_unstable();
        let (keys, origin): (Vec<Nibbles>, Vec<usize>) = sorted.into_iter().unzip();
        let mut walk = Walk {
            keys: &keys,
            values: vec![None; keys.len()],
            wanted: Vec::new(),
        };
        walk.child(&self.root, &mut Vec::new(), 0..keys.len(), None);
        let mut levels: Vec<(Vec<Wanted>, Vec<Node>)> = Vec::new();
        let mut failure = None;
        while !walk.wanted.is_empty() {
            let nodes = match self.load_level(&walk.wanted) {
                Ok(nodes) => nodes,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
            let wanted = std::mem::take(&mut walk.wanted);
            for (index, (want, node)) in wanted.iter().zip(&nodes).enumerate() {
                walk.node(node, &mut want.path.clone(), want.keys.clone(), Some(index));
            }
            levels.push((wanted, nodes));
        }
        // Bottom-up: each level's nodes into their parents one level up,
        // then the first level into the trie itself.
        while let Some((wanted, nodes)) = levels.pop() {
            for (want, node) in wanted.into_iter().zip(nodes) {
                match want.parent {
                    Some(index) => {
                        let (parents, parent_nodes) =
                            levels.last_mut().expect("a parent level above");
                        let depth = parents[index].path.len();
                        let (slot, used) = step(&mut parent_nodes[index], &want.path[depth..]);
                        place(slot, &want.path[depth + used..], node);
                    }
                    None => place(&mut self.root, &want.path, node),
                }
                self.loaded.insert(want.path);
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        let mut values = vec![None; keys.len()];
        for (value, i) in walk.values.into_iter().zip(origin) {
            values[i] = value;
        }
        Ok(values)
    }

    /// Reads, checks and decodes one level's wanted nodes.
    fn load_level(&self, wanted: &[Wanted]) -> Result<Vec<Node>, TrieError> {
        let paths: Vec<&[u8]> = wanted.iter().map(|w| &w.path[..]).collect();
        let stored = self.reader.nodes(&paths)?;
        let load = |(want, stored): (&Wanted, Option<Vec<u8>>)| {
            let rlp = check_node(&want.path, want.hash, stored)?;
            decode(&rlp, NodeRef::Hash(want.hash))
        };
        // Below the threshold, on this thread: a parallel iterator
        // called from outside the pool hands the work to it and waits.
        if wanted.len() >= PARALLEL_LOADS {
            wanted.par_iter().zip(stored).map(load).collect()
        } else {
            wanted.iter().zip(stored).map(load).collect()
        }
    }

    /// Reads the value at `key` (in bytes; nibbles are derived here).
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
        let key = node::to_nibbles(key);
        let mut ctx = Ctx {
            reader: &self.reader,
            loaded: &mut self.loaded,
        };
        let mut child = &mut self.root;
        let mut depth = 0;
        loop {
            ctx.resolve(child, &key[..depth])?;
            match child {
                Child::Empty => return Ok(None),
                Child::Stored(_) => unreachable!("resolved above"),
                Child::Node(node) => match &mut node.kind {
                    Kind::Leaf { key: rest, value } => {
                        return Ok((key[depth..] == rest[..]).then(|| value.clone()));
                    }
                    Kind::Extension {
                        key: shared,
                        child: next,
                    } => {
                        if !key[depth..].starts_with(shared) {
                            return Ok(None);
                        }
                        depth += shared.len();
                        child = next;
                    }
                    Kind::Branch { children, value } => {
                        if depth == key.len() {
                            return Ok(value.clone());
                        }
                        child = &mut children[key[depth] as usize];
                        depth += 1;
                    }
                },
            }
        }
    }

    /// Sets `key` to `value`; an empty value deletes the key.
    pub fn insert(&mut self, key: &[u8], value: Vec<u8>) -> Result<(), TrieError> {
        if value.is_empty() {
            return self.remove(key);
        }
        self.update(key, |ctx, root, path, key| {
            ctx.insert(root, path, key, value)
        })
    }

    /// Deletes `key`, if present.
    pub fn remove(&mut self, key: &[u8]) -> Result<(), TrieError> {
        self.update(key, |ctx, root, path, key| {
            let (new_root, _) = ctx.remove(std::mem::take(root), path, key)?;
            *root = new_root;
            Ok(())
        })
    }

    /// Runs one update from the root; a failure poisons the trie.
    fn update(
        &mut self,
        key: &[u8],
        f: impl FnOnce(&mut Ctx<'_, R>, &mut Child, &mut Nibbles, &[u8]) -> Result<(), TrieError>,
    ) -> Result<(), TrieError> {
        let key = node::to_nibbles(key);
        let mut ctx = Ctx {
            reader: &self.reader,
            loaded: &mut self.loaded,
        };
        let mut path = Vec::with_capacity(key.len());
        let result = f(&mut ctx, &mut self.root, &mut path, &key);
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    /// The root hash, hashing only what changed since the last call.
    ///
    /// # Panics
    /// If an earlier update failed: the trie must be discarded then.
    pub fn root(&mut self) -> B256 {
        assert!(!self.poisoned, "trie used after a failed update");
        match &mut self.root {
            Child::Empty => EMPTY_ROOT_HASH,
            Child::Stored(hash) => *hash,
            Child::Node(node) => match node.hash() {
                NodeRef::Hash(hash) => hash,
                NodeRef::Inline(rlp) => keccak256(rlp),
            },
        }
    }

    /// The root hash and the node writes that store this trie's new state.
    ///
    /// # Panics
    /// If an earlier update failed: the trie must be discarded then.
    pub fn commit(mut self) -> (B256, TrieUpdates) {
        let root = self.root();
        let mut puts = Vec::new();
        // Every loaded path still holding a node is taken out as the nodes
        // are visited: what is left held a node that moved or went away.
        let mut gone = self.loaded;
        match &mut self.root {
            Child::Empty => {}
            Child::Stored(_) => {
                gone.remove(&[][..]);
            }
            Child::Node(node) => {
                gone.remove(&[][..]);
                // The root is stored even when its RLP is short enough to
                // inline: it is looked up by the header's state root.
                if node.dirty {
                    let rlp = match (&node.cached, node.rlp.take()) {
                        (_, Some(rlp)) => rlp,
                        (Some(NodeRef::Inline(rlp)), None) => rlp.clone(),
                        _ => unreachable!("a hashed dirty node keeps its RLP until written"),
                    };
                    puts.push((Vec::new(), rlp));
                    node.dirty = false;
                }
                let mut visit = |path: &[u8], rlp: Option<Vec<u8>>| {
                    gone.remove(path);
                    if let Some(rlp) = rlp {
                        puts.push((path.to_vec(), rlp));
                    }
                };
                node.for_each_child(&mut Vec::new(), &mut |child, path| {
                    child.collect(path, &mut visit)
                });
            }
        }
        let mut deletes: Vec<Nibbles> = gone.into_iter().collect();
        deletes.sort_unstable();
        (
            root,
            TrieUpdates {
                wipe: self.wipe,
                deletes,
                puts,
            },
        )
    }
}

type Visit<'a> = dyn FnMut(&[u8], Option<Vec<u8>>) + 'a;

impl Node {
    fn clean(kind: Kind, cached: NodeRef) -> Self {
        Self {
            kind,
            cached: Some(cached),
            dirty: false,
            rlp: None,
        }
    }

    /// Marks the node changed in place: to be hashed again and written.
    fn changed(&mut self) {
        self.cached = None;
        self.rlp = None;
        self.dirty = true;
    }

    /// This node's reference, encoding it (and its changed descendants)
    /// unless it is cached.
    fn hash(&mut self) -> NodeRef {
        if let Some(cached) = &self.cached {
            return cached.clone();
        }
        let rlp = match &mut self.kind {
            Kind::Leaf { key, value } => node::encode_leaf(key, value),
            Kind::Extension { key, child } => {
                let child = child.hash().unwrap_or(NodeRef::Inline(vec![0x80]));
                node::encode_extension(key, &child)
            }
            Kind::Branch { children, value } => {
                let mut refs: [Option<NodeRef>; 16] = Default::default();
                for (slot, child) in refs.iter_mut().zip(children.iter_mut()) {
                    *slot = child.hash();
                }
                node::encode_branch(&refs, value.as_deref())
            }
        };
        let node_ref = NodeRef::from_rlp(&rlp);
        if node_ref.is_hash() {
            self.rlp = Some(rlp);
        }
        self.cached = Some(node_ref.clone());
        node_ref
    }

    /// Calls `f` with each in-memory child node and its path.
    fn for_each_child(&mut self, path: &mut Nibbles, f: &mut dyn FnMut(&mut Node, &mut Nibbles)) {
        match &mut self.kind {
            Kind::Leaf { .. } => {}
            Kind::Extension { key, child } => {
                if let Child::Node(child) = child {
                    let len = path.len();
                    path.extend_from_slice(key);
                    f(child, path);
                    path.truncate(len);
                }
            }
            Kind::Branch { children, .. } => {
                for (nibble, child) in children.iter_mut().enumerate() {
                    if let Child::Node(child) = child {
                        path.push(nibble as u8);
                        f(child, path);
                        path.pop();
                    }
                }
            }
        }
    }

    /// Reports this hashed node and those below it to `visit` (with their
    /// RLP when they changed and must be written), and marks them written.
    fn collect(&mut self, path: &mut Nibbles, visit: &mut Visit<'_>) {
        if let Some(NodeRef::Hash(_)) = self.cached {
            let rlp = if self.dirty { self.rlp.take() } else { None };
            visit(path, rlp);
        }
        self.dirty = false;
        self.for_each_child(path, &mut |child, path| child.collect(path, visit));
    }
}

impl Child {
    fn hash(&mut self) -> Option<NodeRef> {
        match self {
            Child::Empty => None,
            Child::Stored(hash) => Some(NodeRef::Hash(*hash)),
            Child::Node(node) => Some(node.hash()),
        }
    }
}

/// Fewer loaded nodes than this are checked and decoded on one core.
const PARALLEL_LOADS: usize = 128;

/// A stored node that [`Trie::prefetch`] is to load.
struct Wanted {
    path: Nibbles,
    hash: B256,
    /// The run of sorted keys whose way leads through it.
    keys: Range<usize>,
    /// The index of the node loaded one level up that holds it, or none
    /// for a node hanging from the trie as it was.
    parent: Option<usize>,
}

/// One level of [`Trie::prefetch`]'s walk down the ways of its sorted keys.
struct Walk<'a> {
    keys: &'a [Nibbles],
    /// Each key's value, as found where its way ends in memory.
    values: Vec<Option<Vec<u8>>>,
    /// The stored nodes the ways lead to, to load next.
    wanted: Vec<Wanted>,
}

impl Walk<'_> {
    /// Follows `keys[run]`, which all start with `path`, below `child`.
    fn child(
        &mut self,
        child: &Child,
        path: &mut Nibbles,
        run: Range<usize>,
        parent: Option<usize>,
    ) {
        match child {
            Child::Empty => {}
            Child::Stored(hash) => self.wanted.push(Wanted {
                path: path.clone(),
                hash: *hash,
                keys: run,
                parent,
            }),
            Child::Node(node) => self.node(node, path, run, parent),
        }
    }

    /// [`Walk::child`] below a node at `path`.
    fn node(&mut self, node: &Node, path: &mut Nibbles, run: Range<usize>, parent: Option<usize>) {
        let keys = self.keys;
        let depth = path.len();
        match &node.kind {
            Kind::Leaf { key, value } => {
                for i in run {
                    if keys[i][depth..] == key[..] {
                        self.values[i] = Some(value.clone());
                    }
                }
            }
            Kind::Extension { key: shared, child } => {
                // Sorted keys that all start with `path`: those going on
                // through `shared` are one run.
                let through = |i: &usize| keys[*i][depth..].starts_with(shared);
                let Some(start) = run.clone().find(through) else {
                    return;
                };
                let end = (start..run.end).find(|i| !through(i)).unwrap_or(run.end);
                path.extend_from_slice(shared);
                self.child(child, path, start..end, parent);
                path.truncate(depth);
            }
            Kind::Branch { children, value } => {
                // Keys ending here come first; the rest run by nibble.
                let mut start = run.start;
                while start < run.end && keys[start].len() == depth {
                    self.values[start].clone_from(value);
                    start += 1;
                }
                while start < run.end {
                    let nibble = keys[start][depth];
                    let end = (start..run.end)
                        .find(|i| keys[*i][depth] != nibble)
                        .unwrap_or(run.end);
                    path.push(nibble);
                    self.child(&children[nibble as usize], path, start..end, parent);
                    path.pop();
                    start = end;
                }
            }
        }
    }
}

/// The child of `node` on the way down `path` (relative to the node), and
/// how many nibbles of it that step takes.
fn step<'a>(node: &'a mut Node, path: &[u8]) -> (&'a mut Child, usize) {
    match &mut node.kind {
        Kind::Extension { key, child } => (child, key.len()),
        Kind::Branch { children, .. } => (&mut children[path[0] as usize], 1),
        Kind::Leaf { .. } => unreachable!("a stored node's way runs through no leaf"),
    }
}

/// Puts `node` in place of the stored child at `path` below `child`
/// ([`Walk`] found the path through loaded nodes).
fn place(mut child: &mut Child, path: &[u8], node: Node) {
    let mut depth = 0;
    while depth < path.len() {
        let Child::Node(parent) = child else {
            unreachable!("a prefetched path runs through loaded nodes")
        };
        let (next, used) = step(parent, &path[depth..]);
        child = next;
        depth += used;
    }
    debug_assert!(matches!(child, Child::Stored(_)));
    *child = Child::Node(Box::new(node));
}

struct Ctx<'a, R> {
    reader: &'a R,
    loaded: &'a mut HashSet<Nibbles>,
}

impl<R: NodeReader> Ctx<'_, R> {
    /// Loads a stored child at `path` in place.
    fn resolve(&mut self, child: &mut Child, path: &[u8]) -> Result<(), TrieError> {
        let Child::Stored(hash) = *child else {
            return Ok(());
        };
        let rlp = load_node(self.reader, path, hash)?;
        self.loaded.insert(path.to_vec());
        *child = Child::Node(Box::new(decode(&rlp, NodeRef::Hash(hash))?));
        Ok(())
    }

    /// Sets `key` below `child` (at `path`) to `value`, changing the nodes
    /// on its way in place; only a split builds new ones.
    fn insert(
        &mut self,
        child: &mut Child,
        path: &mut Nibbles,
        key: &[u8],
        value: Vec<u8>,
    ) -> Result<(), TrieError> {
        self.resolve(child, path)?;
        let node = match child {
            Child::Empty => {
                *child = Child::dirty(Kind::Leaf {
                    key: key.to_vec(),
                    value,
                });
                return Ok(());
            }
            Child::Stored(_) => unreachable!("resolved above"),
            Child::Node(node) => node,
        };
        let in_place = match &node.kind {
            Kind::Leaf { key: old_key, .. } => old_key[..] == key[..],
            Kind::Extension { key: shared, .. } => key.starts_with(shared),
            Kind::Branch { .. } => true,
        };
        if !in_place {
            let Child::Node(node) = std::mem::take(child) else {
                unreachable!("matched a node above")
            };
            *child = split(node.kind, key, value);
            return Ok(());
        }
        match &mut node.kind {
            Kind::Leaf { value: old, .. } => *old = value,
            Kind::Extension {
                key: shared,
                child: next,
            } => {
                let len = path.len();
                path.extend_from_slice(shared);
                let inserted = self.insert(next, path, &key[shared.len()..], value);
                path.truncate(len);
                inserted?;
            }
            Kind::Branch {
                children,
                value: branch_value,
            } => match key.split_first() {
                None => *branch_value = Some(value),
                Some((nibble, rest)) => {
                    path.push(*nibble);
                    let inserted = self.insert(&mut children[*nibble as usize], path, rest, value);
                    path.pop();
                    inserted?;
                }
            },
        }
        node.changed();
        Ok(())
    }

    /// Removes `key` below `child`; returns the new child and whether
    /// anything changed (an unchanged subtree keeps its cached hash).
    fn remove(
        &mut self,
        mut child: Child,
        path: &mut Nibbles,
        key: &[u8],
    ) -> Result<(Child, bool), TrieError> {
        self.resolve(&mut child, path)?;
        let mut node = match child {
            Child::Empty => return Ok((Child::Empty, false)),
            Child::Stored(_) => unreachable!("resolved above"),
            Child::Node(node) => node,
        };
        match &mut node.kind {
            Kind::Leaf { key: leaf_key, .. } => {
                if leaf_key[..] == key[..] {
                    Ok((Child::Empty, true))
                } else {
                    Ok((Child::Node(node), false))
                }
            }
            Kind::Extension {
                key: shared,
                child: next,
            } => {
                if !key.starts_with(shared) {
                    return Ok((Child::Node(node), false));
                }
                let len = path.len();
                path.extend_from_slice(shared);
                let (next_new, changed) =
                    self.remove(std::mem::take(next), path, &key[shared.len()..])?;
                path.truncate(len);
                if !changed {
                    *next = next_new;
                    return Ok((Child::Node(node), false));
                }
                let shared = std::mem::take(shared);
                Ok((merge_into_extension(shared, next_new), true))
            }
            Kind::Branch { children, value } => {
                match key.split_first() {
                    None => {
                        if value.take().is_none() {
                            return Ok((Child::Node(node), false));
                        }
                    }
                    Some((nibble, rest)) => {
                        let slot = std::mem::take(&mut children[*nibble as usize]);
                        path.push(*nibble);
                        let (slot, changed) = self.remove(slot, path, rest)?;
                        path.pop();
                        children[*nibble as usize] = slot;
                        if !changed {
                            return Ok((Child::Node(node), false));
                        }
                    }
                }
                let occupied: Vec<usize> = children
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| !matches!(c, Child::Empty))
                    .map(|(i, _)| i)
                    .collect();
                let result = match (occupied.as_slice(), value.take()) {
                    ([], None) => Child::Empty,
                    ([], Some(value)) => Child::dirty(Kind::Leaf {
                        key: Vec::new(),
                        value,
                    }),
                    ([only], None) => {
                        let mut last = std::mem::take(&mut children[*only]);
                        path.push(*only as u8);
                        self.resolve(&mut last, path)?;
                        path.pop();
                        merge_into_extension(vec![*only as u8], last)
                    }
                    (_, value) => {
                        let Kind::Branch { children, .. } = node.kind else {
                            unreachable!()
                        };
                        Child::dirty(Kind::Branch { children, value })
                    }
                };
                Ok((result, true))
            }
        }
    }
}

/// Inserts `key` where `kind` (a leaf of another key, or an extension
/// `key` leaves) stands: a new branch at the point they part, holding what
/// stood there and a new leaf for `key`.
fn split(kind: Kind, key: &[u8], value: Vec<u8>) -> Child {
    let mut children: Box<[Child; 16]> = Box::default();
    let mut branch_value = None;
    let common = match kind {
        Kind::Leaf {
            key: old_key,
            value: old_value,
        } => {
            let common = common_prefix(&old_key, key);
            hang_leaf(
                &mut children,
                &mut branch_value,
                &old_key[common..],
                old_value,
            );
            common
        }
        Kind::Extension {
            key: shared,
            child: next,
        } => {
            let common = common_prefix(&shared, key);
            children[shared[common] as usize] = if shared.len() == common + 1 {
                next
            } else {
                Child::dirty(Kind::Extension {
                    key: shared[common + 1..].to_vec(),
                    child: next,
                })
            };
            common
        }
        Kind::Branch { .. } => unreachable!("a branch takes every key in place"),
    };
    hang_leaf(&mut children, &mut branch_value, &key[common..], value);
    with_extension(
        &key[..common],
        Kind::Branch {
            children,
            value: branch_value,
        },
    )
}

/// Puts the leaf of the key fragment `rest` into a new branch: as the
/// branch's value if `rest` ends there, else below its first nibble.
fn hang_leaf(
    children: &mut [Child; 16],
    branch_value: &mut Option<Vec<u8>>,
    rest: &[u8],
    value: Vec<u8>,
) {
    match rest.split_first() {
        None => *branch_value = Some(value),
        Some((nibble, rest)) => {
            children[*nibble as usize] = Child::dirty(Kind::Leaf {
                key: rest.to_vec(),
                value,
            })
        }
    }
}

/// Puts `prefix` in front of `child`: merges it into a leaf or extension,
/// or makes an extension above a branch.
fn merge_into_extension(prefix: Nibbles, child: Child) -> Child {
    match child {
        Child::Empty => Child::Empty,
        Child::Node(node) => match node.kind {
            Kind::Leaf { key, value } => Child::dirty(Kind::Leaf {
                key: [prefix, key].concat(),
                value,
            }),
            Kind::Extension { key, child } => Child::dirty(Kind::Extension {
                key: [prefix, key].concat(),
                child,
            }),
            kind @ Kind::Branch { .. } => Child::dirty(Kind::Extension {
                key: prefix,
                child: Child::Node(Box::new(Node { kind, ..*node })),
            }),
        },
        stored @ Child::Stored(_) => {
            // Only reached for a branch below an extension: extensions and
            // leaves are resolved before merging.
            Child::dirty(Kind::Extension {
                key: prefix,
                child: stored,
            })
        }
    }
}

fn with_extension(prefix: &[u8], branch: Kind) -> Child {
    if prefix.is_empty() {
        Child::dirty(branch)
    } else {
        Child::dirty(Kind::Extension {
            key: prefix.to_vec(),
            child: Child::dirty(branch),
        })
    }
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Builds a clean in-memory node from its RLP; inline children are decoded
/// too, stored children stay references.
fn decode(rlp: &[u8], cached: NodeRef) -> Result<Node, TrieError> {
    let kind = match node::decode_node(rlp)? {
        DecodedNode::Leaf { key, value } => Kind::Leaf { key, value },
        DecodedNode::Extension { key, child } => Kind::Extension {
            key,
            child: decode_child(child)?,
        },
        DecodedNode::Branch { children, value } => {
            let mut out: Box<[Child; 16]> = Box::default();
            for (slot, child) in out.iter_mut().zip(*children) {
                *slot = decode_child(child)?;
            }
            Kind::Branch {
                children: out,
                value,
            }
        }
    };
    Ok(Node::clean(kind, cached))
}

fn decode_child(child: DecodedChild) -> Result<Child, TrieError> {
    Ok(match child {
        DecodedChild::Empty => Child::Empty,
        DecodedChild::Hash(hash) => Child::Stored(hash),
        DecodedChild::Inline(rlp) => {
            let cached = NodeRef::Inline(rlp.clone());
            Child::Node(Box::new(decode(&rlp, cached)?))
        }
    })
}

#[cfg(test)]
mod tests;
