//! quorumdns: an authoritative DNS service for dynamic DNS, replicated with Raft.
//!
//! Data flow: HTTP/DNS handlers build a [`state::Command`], [`raft`] replicates it, every
//! node's state machine runs [`state::State::apply`] and publishes an immutable
//! DNS snapshot that the DNS query path reads without locks. See docs/ARCHITECTURE.md.

pub mod cli;
pub mod cluster;
pub mod codec;
pub mod config;
pub mod dns;
pub mod dyndns;
pub mod heap;
pub mod http;
pub mod metrics;
pub mod model;
pub mod node;
pub mod ops;
pub mod raft;
pub mod secret;
pub mod service;
pub mod state;
pub mod store;
