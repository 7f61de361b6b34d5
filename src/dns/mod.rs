//! The DNS query path: an immutable, pre-rendered snapshot of every zone and our own
//! UDP/TCP transports that answer from it.
//!
//! Why not hickory-server's `Server`: it parses every request into a `MessageRequest`
//! and builds every response from a record iterator (`MessageResponse`), so each query
//! pays for a full decode, `Name`/`Record` allocations and a re-encode, and a
//! pre-rendered answer has nowhere to go. The query path here works on wire bytes
//! instead: [`wire`] parses the query strictly and without allocating, [`answer`] copies
//! RRsets that [`view`] rendered when the zone changed, and [`transport`] moves bytes
//! between sockets and [`answer::answer_into`]. hickory-proto is still used where it
//! helps: presentation-format parsing in `model`, and building and checking messages in
//! tests.
//!
//! Data flow: `state::State` → [`SnapshotPublisher`] (a `StateObserver`) builds a
//! [`DnsSnapshot`] and swaps it into an `ArcSwap` → [`DnsServer`] loads the current
//! snapshot per query → [`answer()`] → response bytes.

// Protocol: one file per mechanism, over wire bytes.
pub mod answer;
pub mod cookie;
pub mod cookie_secret;
pub mod edns;
pub mod notify;
pub mod response;
pub mod rr;
pub mod rrl;
pub mod stats;
pub mod tsig;
pub mod update;
pub mod wire;
pub mod xfr;
// Sockets: UDP and TCP loops, connection limits.
pub mod transport;
// The immutable, pre-rendered view of every zone that queries read.
pub mod view;
// Configuration of this subsystem (the `[dns]` section, TSIG keys).
pub mod config;
pub mod fuzzing;

#[cfg(test)]
mod tests;

pub use answer::{answer, answer_into, answer_outcome, Outcome, QueryContext, Slip, EDNS_PAYLOAD};
pub use stats::Transport;
pub use transport::config::DnsServerConfig;
pub use transport::server::DnsServer;
pub use view::snapshot::{DnsSnapshot, SnapshotPublisher, ZoneView};
