//! placeholder: filled by the raft work
