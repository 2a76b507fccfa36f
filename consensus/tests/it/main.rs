//! Integration tests of outrigger-consensus: real sockets on 127.0.0.1.

mod network;
