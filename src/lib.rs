//! quorumdns: an authoritative DNS service for dynamic DNS, replicated with Raft.
//!
//! Data flow: HTTP/DNS handlers build a [`state::Command`], [`raft`] replicates it, every
//! node's state machine runs [`state::State::apply`] and publishes an immutable
//! DNS snapshot that the DNS query path reads without locks. See docs/ARCHITECTURE.md.

pub mod cli;
pub mod clock;
pub(crate) mod cluster;
pub mod codec;
pub mod config;
pub mod dns;
pub mod dyndns;
pub(crate) mod heap;
pub(crate) mod http;
pub(crate) mod metrics;
pub mod model;
pub mod node;
pub(crate) mod ops;
pub mod raft;
pub mod secret;
pub(crate) mod service;
pub mod state;
pub(crate) mod store;
