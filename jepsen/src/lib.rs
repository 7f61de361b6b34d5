//! quorumdns-jepsen: the history format ([`history`]) written by the runner and read by
//! the checkers ([`checker`]), one invariant per file; the runner itself: a 5-node
//! cluster in Docker containers ([`cluster`]), the workload ([`workload`]), the faults
//! ([`nemesis`]), the run's phases ([`run`]) and its results ([`report`]).

pub mod checker;
pub mod cluster;
pub mod dns;
pub mod history;
pub mod nemesis;
pub mod recorder;
pub mod report;
pub mod run;
pub mod workload;
