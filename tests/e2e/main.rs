//! Process-level end-to-end tests: the real binary, real DNS clients (dig), real HTTP.
//! Requires `dig` (Debian: bind9-dnsutils); `.ci/run` installs it.
//!
//! One module per topic; what they share (starting nodes and clusters, the typed
//! configuration, dig, waiting for conditions) is in `support`, the only module a topic
//! module imports from (`support::topic_modules_import_only_from_support` checks it).

mod support;

mod acme_clients;
mod acme_dns;
mod api;
mod bad_input;
mod bench;
mod cluster;
mod compose;
mod conformance;
mod deploy;
mod differential;
mod dns_answers;
mod dyndns;
mod dyndns_daemons;
mod dyndns_policy;
mod hardening;
mod ops;
mod partition;
mod randomized;
mod restart;
mod rfc2136;
mod secondaries;
mod tls;
mod update_history;
mod update_model;
mod upgrade;
mod zone_files;
