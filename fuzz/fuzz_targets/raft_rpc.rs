//! The Raft RPC decoder: `codec::decode` of every body type the internal port accepts
//! (after HMAC authentication a peer could still send garbage or a hostile length).
#![no_main]

use libfuzzer_sys::fuzz_target;
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use quorumdns::codec;
use quorumdns::raft::{MembershipChange, NodeId, Request, TypeConfig};

fuzz_target!(|data: &[u8]| {
    let _ = codec::decode::<AppendEntriesRequest<TypeConfig>>(data);
    let _ = codec::decode::<VoteRequest<NodeId>>(data);
    let _ = codec::decode::<InstallSnapshotRequest<TypeConfig>>(data);
    let _ = codec::decode::<Request>(data);
    let _ = codec::decode::<MembershipChange>(data);
    let _ = codec::decode::<quorumdns::state::State>(data);
});
