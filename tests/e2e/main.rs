//! Process-level end-to-end tests: the real binary, real DNS clients (dig), real HTTP.
//! Requires `dig` (Debian: bind9-dnsutils); `.ci/run` installs it.

mod harness;

mod api;
mod bad_input;
mod dns_answers;
mod dyndns;
mod restart;
