//! Outrigger's bridge: bindings to the L1 and sidechain bridge contracts and
//! the M-of-N relayer (L1/L2 watchers, signer, submitter, persistent queue).
//!
//! Not built yet: see the bridge issues.
