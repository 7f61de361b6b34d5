//! quorumdns-jepsen: the history format ([`history`]) written by the runner and read by
//! the checkers ([`checker`]), one invariant per file.

pub mod checker;
pub mod history;
