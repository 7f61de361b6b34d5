//! The DNS query path: an immutable, pre-rendered snapshot of every zone and our own
//! UDP/TCP transports that answer from it.
//!
//! Why not hickory-server's `Server`: it parses every request into a `MessageRequest`
//! and builds every response from a record iterator (`MessageResponse`), so each query
//! pays for a full decode, `Name`/`Record` allocations and a re-encode, and a
//! pre-rendered answer has nowhere to go. The query path here works on wire bytes
//! instead: [`wire`] parses the query strictly and without allocating, [`answer`] copies
//! RRsets that [`snapshot`] rendered when the zone changed, and [`server`] moves bytes
//! between sockets and [`answer::answer_into`]. hickory-proto is still used where it
//! helps: presentation-format parsing in `model`, and building and checking messages in
//! tests.
//!
//! Data flow: `state::State` → [`SnapshotPublisher`] (a `StateObserver`) builds a
//! [`DnsSnapshot`] and swaps it into an `ArcSwap` → [`DnsServer`] loads the current
//! snapshot per query → [`answer()`] → response bytes.

pub mod answer;
pub mod cookie;
pub mod cookie_secret;
pub mod edns;
pub mod fuzzing;
mod incremental;
pub mod nodemap;
pub mod nodeview;
pub mod notify;
pub mod rr;
pub mod rrl;
pub mod server;
pub mod snapshot;
pub mod stats;
pub mod tcp_limits;
pub mod tsig;
#[cfg(target_os = "linux")]
pub mod udp;
pub mod update;
pub mod wire;
pub mod xfr;

#[cfg(test)]
mod tests;

pub use answer::{answer, answer_into, answer_outcome, Outcome, QueryContext, Slip, EDNS_PAYLOAD};
pub use server::{DnsServer, DnsServerConfig};
pub use snapshot::{DnsSnapshot, SnapshotPublisher, ZoneView};
pub use stats::Transport;
