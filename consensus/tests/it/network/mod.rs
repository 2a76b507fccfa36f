//! The p2p layer, several networks on loopback. Each test bounds its time.

mod bootnode;
mod connections;
mod gossip;
mod hostile;
mod support;
mod sync;
