//! Process-level end-to-end tests: the real binary, real DNS clients (dig), real HTTP.
//! Requires `dig` (Debian: bind9-dnsutils); `.ci/run` installs it.

mod cluster_harness;
mod harness;

mod acme_clients;
mod acme_dns;
mod api;
mod bad_input;
mod cluster;
mod bench;
mod conformance;
mod hardening;
mod dns_answers;
mod partition;
mod randomized;
mod dyndns;
mod restart;
mod rfc2136;
mod secondaries;
mod tls;
mod update_history;
mod update_model;
mod ops;
mod deploy;
mod compose;
