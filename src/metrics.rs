//! Every metric the node exports, by name, in one place (docs/metrics.md describes them).
//! Metrics live in one process-wide registry served at `/metrics`.

use std::sync::LazyLock;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

pub(crate) static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
    let r = Registry::new_custom(Some("quorumdns".into()), None).expect("static prefix is valid");
    #[cfg(target_os = "linux")]
    let _ = r.register(Box::new(prometheus::process_collector::ProcessCollector::for_self()));
    r
});

fn register<C: prometheus::core::Collector + Clone + 'static>(c: C) -> C {
    REGISTRY.register(Box::new(c.clone())).expect("metric names are unique");
    c
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"))
}

fn gauge(name: &str, help: &str) -> IntGauge {
    register(IntGauge::new(name, help).expect("valid metric"))
}

fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    register(IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric"))
}

fn histogram_vec(name: &str, help: &str, labels: &[&str], buckets: Vec<f64>) -> HistogramVec {
    register(HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels).expect("valid metric"))
}

// ---------------------------------------------------------------- names
pub(crate) const DNS_QUERIES: &str = "dns_queries_total";
pub(crate) const DNS_QUERY_SECONDS: &str = "dns_query_duration_seconds";
pub(crate) const DNS_DROPPED: &str = "dns_dropped_total";
pub(crate) const HTTP_REQUESTS: &str = "http_requests_total";
pub(crate) const HTTP_REQUEST_SECONDS: &str = "http_request_duration_seconds";
pub(crate) const RAFT_APPLIED_INDEX: &str = "raft_applied_index";
pub(crate) const RAFT_RPC_REJECTED: &str = "raft_rpc_rejected_total";
pub(crate) const RAFT_WRITE_GROUP_COMMANDS_NAME: &str = "raft_write_group_commands";
pub(crate) const RAFT_LOG_APPEND_ENTRIES_NAME: &str = "raft_log_append_entries";
pub(crate) const RAFT_FORWARD_GROUP_COMMANDS_NAME: &str = "raft_forward_group_commands";
pub(crate) const RAFT_STALE_NAME: &str = "raft_stale";
pub(crate) const RAFT_TERM_NAME: &str = "raft_term";
pub(crate) const CLUSTER_FORMAT_VERSION_NAME: &str = "cluster_format_version";
pub(crate) const RAFT_IS_LEADER_NAME: &str = "raft_is_leader";
pub(crate) const RAFT_FORWARDED: &str = "raft_forwarded_total";
pub(crate) const STORAGE_FLUSH_SECONDS: &str = "storage_flush_duration_seconds";
pub(crate) const ZONE_SERIAL: &str = "zone_serial";
pub(crate) const ZONE_RECORDS: &str = "zone_records";
pub(crate) const COMMANDS: &str = "commands_total";
pub(crate) const AUTH_FAILURES: &str = "auth_failures_total";
pub(crate) const AUTH_RECHECKS: &str = "auth_rechecks_total";
pub(crate) const XFR_REQUESTS: &str = "xfr_requests_total";
pub(crate) const NOTIFY_SENT: &str = "notify_sent_total";
pub(crate) const DYNDNS_UPDATES: &str = "dyndns_updates_total";
pub(crate) const DYNDNS_UPDATE_SECONDS: &str = "dyndns_update_duration_seconds";
pub(crate) const CREDENTIAL_CACHE: &str = "credential_cache_total";

// ---------------------------------------------------------------- dns
pub(crate) static DNS_QUERIES_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        DNS_QUERIES,
        "DNS queries answered, by query type, response code and transport",
        &["qtype", "rcode", "transport"],
    )
});
pub(crate) static DNS_QUERY_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram_vec(
        DNS_QUERY_SECONDS,
        "Time to compute a DNS answer (excluding socket IO)",
        &["transport"],
        vec![1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 1e-3, 1e-2],
    )
});
pub(crate) const UDP_COALESCE_WAITS: &str = "dns_udp_coalesce_waits_total";
pub(crate) static UDP_COALESCE_WAITS_TOTAL: LazyLock<prometheus::IntCounter> = LazyLock::new(|| {
    register(
        prometheus::IntCounter::new(
            UDP_COALESCE_WAITS,
            "Times a UDP loop waited dns.udp_coalesce_us for more queries before reading (moderate load)",
        )
        .expect("valid metric"),
    )
});
pub(crate) static DNS_DROPPED_TOTAL: LazyLock<IntCounterVec> =
    LazyLock::new(|| counter_vec(DNS_DROPPED, "DNS packets dropped without an answer, by reason", &["reason"]));

pub(crate) static XFR_REQUESTS_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        XFR_REQUESTS,
        "Zone transfer requests, by type (AXFR, IXFR) and outcome (axfr, ixfr, current, refused, bad_tsig, not_authoritative, formerr, udp)",
        &["qtype", "outcome"],
    )
});
pub(crate) static NOTIFY_SENT_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        NOTIFY_SENT,
        "NOTIFY messages sent to secondaries, by result (acked, timeout, error, superseded, gave_up)",
        &["result"],
    )
});

// ---------------------------------------------------------------- http
pub(crate) static HTTP_REQUESTS_TOTAL: LazyLock<IntCounterVec> =
    LazyLock::new(|| counter_vec(HTTP_REQUESTS, "HTTP requests, by route and status", &["route", "status"]));
pub(crate) static HTTP_REQUEST_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram_vec(
        HTTP_REQUEST_SECONDS,
        "HTTP request latency by route",
        &["route"],
        vec![1e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.5, 1.0, 5.0],
    )
});

pub(crate) static AUTH_FAILURES_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(AUTH_FAILURES, "Requests refused for missing or wrong credentials, by credential kind", &["kind"])
});

pub(crate) static AUTH_RECHECKS_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        AUTH_RECHECKS,
        "Update credentials checked again after a read barrier because this node's replica did not know them, by what the barrier found",
        &["result"],
    )
});

// ---------------------------------------------------------------- dyndns
pub(crate) static DYNDNS_UPDATES_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        DYNDNS_UPDATES,
        "Dynamic DNS update results (one per host line), by endpoint and code",
        &["endpoint", "code"],
    )
});
pub(crate) static DYNDNS_UPDATE_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram_vec(
        DYNDNS_UPDATE_SECONDS,
        "Time to answer a dynamic DNS update request, by endpoint",
        &["endpoint"],
        vec![5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1.0, 5.0],
    )
});
pub(crate) static CREDENTIAL_CACHE_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(CREDENTIAL_CACHE, "Verified-credential cache lookups, by result (hit, miss)", &["result"])
});

// ---------------------------------------------------------------- raft and storage
pub(crate) static RAFT_APPLIED: LazyLock<IntGauge> =
    LazyLock::new(|| gauge(RAFT_APPLIED_INDEX, "Last log index applied by this node's state machine"));
pub(crate) static RAFT_RPC_REJECTED_TOTAL: LazyLock<IntCounterVec> =
    LazyLock::new(|| counter_vec(RAFT_RPC_REJECTED, "Raft RPCs refused, by reason (auth, decode)", &["reason"]));
pub(crate) static RAFT_STALE: LazyLock<IntGauge> = LazyLock::new(|| {
    gauge(RAFT_STALE_NAME, "1 when this node has not heard from a leader (or, as leader, a quorum) recently")
});
pub(crate) static RAFT_TERM: LazyLock<IntGauge> = LazyLock::new(|| gauge(RAFT_TERM_NAME, "Current Raft term"));
pub(crate) static CLUSTER_FORMAT_VERSION: LazyLock<IntGauge> = LazyLock::new(|| {
    gauge(CLUSTER_FORMAT_VERSION_NAME, "The data format the cluster writes (raised once every member understands it)")
});
pub(crate) static RAFT_IS_LEADER: LazyLock<IntGauge> =
    LazyLock::new(|| gauge(RAFT_IS_LEADER_NAME, "1 when this node is the Raft leader"));
pub(crate) static RAFT_FORWARDED_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        RAFT_FORWARDED,
        "Calls this node made to the leader on a client's behalf (writes, read indexes, membership), by result",
        &["result"],
    )
});
pub(crate) static RAFT_WRITE_GROUP_COMMANDS: LazyLock<prometheus::Histogram> = LazyLock::new(|| {
    count_histogram(
        RAFT_WRITE_GROUP_COMMANDS_NAME,
        "Commands per log entry proposed by this node's group writer (group commit of updates)",
    )
});
pub(crate) static RAFT_FORWARD_GROUP_COMMANDS: LazyLock<prometheus::Histogram> = LazyLock::new(|| {
    count_histogram(
        RAFT_FORWARD_GROUP_COMMANDS_NAME,
        "Updates per batch this follower forwarded to the leader in one call",
    )
});
pub(crate) const HEAP_TRIMS: &str = "heap_trims_total";
pub(crate) static HEAP_TRIMS_TOTAL: LazyLock<prometheus::IntCounter> = LazyLock::new(|| {
    register(
        prometheus::IntCounter::new(
            HEAP_TRIMS,
            "Times this node returned freed heap memory to the kernel (after imports, snapshots, backups)",
        )
        .expect("valid metric"),
    )
});
pub(crate) static RAFT_LOG_APPEND_ENTRIES: LazyLock<prometheus::Histogram> = LazyLock::new(|| {
    count_histogram(
        RAFT_LOG_APPEND_ENTRIES_NAME,
        "Log entries per append call of openraft to the log store (each call is one flush)",
    )
});

/// A histogram of how many things went together (1 to 256, powers of two).
fn count_histogram(name: &str, help: &str) -> prometheus::Histogram {
    let buckets = (0..=8).map(|i| f64::from(1u32 << i)).collect();
    register(prometheus::Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets)).expect("valid metric"))
}
pub(crate) static STORAGE_FLUSH_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram_vec(
        STORAGE_FLUSH_SECONDS,
        "Time to flush the sled database to disk, by caller",
        &["what"],
        vec![1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 5e-2, 0.1, 1.0],
    )
});

// ---------------------------------------------------------------- state
pub(crate) static ZONE_SERIAL_GAUGE: LazyLock<IntGaugeVec> =
    LazyLock::new(|| gauge_vec(ZONE_SERIAL, "Current SOA serial per zone", &["zone"]));
pub(crate) static ZONE_RECORDS_GAUGE: LazyLock<IntGaugeVec> =
    LazyLock::new(|| gauge_vec(ZONE_RECORDS, "Resource records per zone, SOA included", &["zone"]));
pub(crate) static COMMANDS_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(COMMANDS, "Commands applied by the state machine, by kind and result", &["kind", "result"])
});

/// Prometheus text exposition of everything registered.
pub(crate) fn render() -> String {
    let encoder = prometheus::TextEncoder::new();
    encoder.encode_to_string(&REGISTRY.gather()).unwrap_or_else(|e| format!("# encode error: {e}\n"))
}

// ---------------------------------------------------------------- operations (issue 6)
// Raft progress as openraft reports it (refreshed on every change of its metrics by
// `crate::ops::observe`), snapshots, the storage probe and outgoing RPC errors.
pub(crate) const RAFT_LEADER_ID_NAME: &str = "raft_leader_id";
pub(crate) const RAFT_LAST_LOG_INDEX_NAME: &str = "raft_last_log_index";
pub(crate) const RAFT_COMMITTED_INDEX_NAME: &str = "raft_committed_index";
pub(crate) const RAFT_APPLY_LAG_NAME: &str = "raft_apply_lag";
pub(crate) const RAFT_REPLICATION_LAG_NAME: &str = "raft_replication_lag";
pub(crate) const RAFT_ELECTIONS: &str = "raft_elections_total";
pub(crate) const RAFT_LEADER_CHANGES: &str = "raft_leader_changes_total";
pub(crate) const RAFT_RPC_ERRORS: &str = "raft_rpc_errors_total";
pub(crate) const RAFT_SNAPSHOT_INDEX_NAME: &str = "raft_snapshot_index";
pub(crate) const RAFT_SNAPSHOTS: &str = "raft_snapshots_total";
pub(crate) const RAFT_SNAPSHOT_BYTES_NAME: &str = "raft_snapshot_bytes";
pub(crate) const RAFT_SNAPSHOT_TIMESTAMP_NAME: &str = "raft_snapshot_timestamp_seconds";
pub(crate) const STORAGE_PROBE_FAILURES: &str = "storage_probe_failures_total";
pub(crate) const STORAGE_PROBE_TIMESTAMP_NAME: &str = "storage_probe_success_timestamp_seconds";
pub(crate) const BACKUPS: &str = "backups_total";
pub(crate) const SHUTTING_DOWN_NAME: &str = "shutting_down";

pub(crate) static RAFT_LEADER_ID: LazyLock<IntGauge> =
    LazyLock::new(|| gauge(RAFT_LEADER_ID_NAME, "Node id of the leader this node knows, 0 when none"));
pub(crate) static RAFT_LAST_LOG_INDEX: LazyLock<IntGauge> = LazyLock::new(|| {
    gauge(RAFT_LAST_LOG_INDEX_NAME, "Index of the last entry in this node's log (appended, maybe not committed)")
});
pub(crate) static RAFT_COMMITTED_INDEX: LazyLock<IntGauge> = LazyLock::new(|| {
    gauge(
        RAFT_COMMITTED_INDEX_NAME,
        "Approximate commit index: on the leader the highest index a majority of voters has matched; elsewhere the applied index (a lower bound)",
    )
});
pub(crate) static RAFT_APPLY_LAG: LazyLock<IntGauge> =
    LazyLock::new(|| gauge(RAFT_APPLY_LAG_NAME, "Log entries this node has appended but not applied yet"));
pub(crate) static RAFT_REPLICATION_LAG: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge_vec(
        RAFT_REPLICATION_LAG_NAME,
        "On the leader: entries each follower's matched index trails the leader's last log index",
        &["follower"],
    )
});
pub(crate) static RAFT_ELECTIONS_TOTAL: LazyLock<prometheus::IntCounter> = LazyLock::new(|| {
    register(
        prometheus::IntCounter::new(
            RAFT_ELECTIONS,
            "New terms this node has seen (each one is an election somewhere in the cluster)",
        )
        .expect("valid metric"),
    )
});
pub(crate) static RAFT_LEADER_CHANGES_TOTAL: LazyLock<prometheus::IntCounter> = LazyLock::new(|| {
    register(
        prometheus::IntCounter::new(RAFT_LEADER_CHANGES, "Times the leader known to this node changed")
            .expect("valid metric"),
    )
});
pub(crate) static RAFT_RPC_ERRORS_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(RAFT_RPC_ERRORS, "Outgoing Raft RPCs that failed, by RPC (append, snapshot, vote) and kind (unreachable, timeout, network, remote)", &["rpc", "kind"])
});
pub(crate) static RAFT_SNAPSHOT_INDEX: LazyLock<IntGauge> =
    LazyLock::new(|| gauge(RAFT_SNAPSHOT_INDEX_NAME, "Last log index covered by this node's current snapshot"));
pub(crate) static RAFT_SNAPSHOTS_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(RAFT_SNAPSHOTS, "Snapshots persisted by this node, by origin (built, installed)", &["origin"])
});
pub(crate) static RAFT_SNAPSHOT_BYTES: LazyLock<IntGauge> =
    LazyLock::new(|| gauge(RAFT_SNAPSHOT_BYTES_NAME, "Size of the last snapshot persisted by this node"));
pub(crate) static RAFT_SNAPSHOT_TIMESTAMP: LazyLock<IntGauge> = LazyLock::new(|| {
    gauge(RAFT_SNAPSHOT_TIMESTAMP_NAME, "Unix time the last snapshot was persisted (age = time() - this)")
});
pub(crate) static STORAGE_PROBE_FAILURES_TOTAL: LazyLock<prometheus::IntCounter> = LazyLock::new(|| {
    register(
        prometheus::IntCounter::new(STORAGE_PROBE_FAILURES, "Storage probes (a tiny write + flush) that failed")
            .expect("valid metric"),
    )
});
pub(crate) static STORAGE_PROBE_TIMESTAMP: LazyLock<IntGauge> =
    LazyLock::new(|| gauge(STORAGE_PROBE_TIMESTAMP_NAME, "Unix time of the last successful storage probe"));
pub(crate) static BACKUPS_TOTAL: LazyLock<IntCounterVec> =
    LazyLock::new(|| counter_vec(BACKUPS, "Backups served by GET /api/v1/backup, by result (ok, error)", &["result"]));
pub(crate) static SHUTTING_DOWN: LazyLock<IntGauge> =
    LazyLock::new(|| gauge(SHUTTING_DOWN_NAME, "1 once this node received SIGTERM and stopped taking updates"));

/// Unix time in whole seconds (0 if the clock is before 1970).
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Registers every metric up front, so `/metrics` lists each one (at zero) from the start
/// and dashboards and alerts never see a missing series.
pub(crate) fn touch_all() {
    let _ = (&*DNS_QUERIES_TOTAL, &*DNS_QUERY_DURATION, &*DNS_DROPPED_TOTAL, &*XFR_REQUESTS_TOTAL, &*NOTIFY_SENT_TOTAL);
    let _ = (&*HTTP_REQUESTS_TOTAL, &*HTTP_REQUEST_DURATION, &*AUTH_FAILURES_TOTAL, &*DYNDNS_UPDATES_TOTAL);
    let _ = &*AUTH_RECHECKS_TOTAL;
    let _ = (&*DYNDNS_UPDATE_DURATION, &*CREDENTIAL_CACHE_TOTAL, &*RAFT_APPLIED, &*RAFT_RPC_REJECTED_TOTAL);
    let _ = (&*RAFT_STALE, &*RAFT_TERM, &*RAFT_IS_LEADER, &*RAFT_FORWARDED_TOTAL, &*STORAGE_FLUSH_DURATION);
    let _ = (&*ZONE_SERIAL_GAUGE, &*ZONE_RECORDS_GAUGE, &*COMMANDS_TOTAL, &*RAFT_LEADER_ID, &*RAFT_LAST_LOG_INDEX);
    let _ = &*CLUSTER_FORMAT_VERSION;
    let _ = (&*RAFT_COMMITTED_INDEX, &*RAFT_APPLY_LAG, &*RAFT_REPLICATION_LAG, &*RAFT_ELECTIONS_TOTAL);
    let _ = (&*RAFT_LEADER_CHANGES_TOTAL, &*RAFT_RPC_ERRORS_TOTAL, &*RAFT_SNAPSHOT_INDEX, &*RAFT_SNAPSHOTS_TOTAL);
    let _ = (&*RAFT_SNAPSHOT_BYTES, &*RAFT_SNAPSHOT_TIMESTAMP, &*STORAGE_PROBE_FAILURES_TOTAL);
    let _ = (&*STORAGE_PROBE_TIMESTAMP, &*BACKUPS_TOTAL, &*SHUTTING_DOWN);
    let _ = (&*DNS_UPDATES_TOTAL, &*DNS_UPDATE_DURATION, &*TSIG_FAILURES_TOTAL, &*ACME_DNS_UPDATES_TOTAL);
    let _ = (&*DNS_RRL_TOTAL, &*DNS_TCP_REFUSED_TOTAL, &*HTTP_AUTH_THROTTLED_TOTAL, &*DNS_TCP_CLOSED_TOTAL);
    let _ = (&*HTTP_TLS_HANDSHAKES_TOTAL, &*HTTP_TLS_RELOADS_TOTAL, &*HTTP_TLS_CERT_LOADED_TIMESTAMP);
    let _ = (&*ACME_DNS_EXPIRY_SWEEPS_TOTAL, &*DNS_UPDATES_REJECTED_TOTAL);
    let _ = (&*RAFT_WRITE_GROUP_COMMANDS, &*RAFT_LOG_APPEND_ENTRIES, &*RAFT_FORWARD_GROUP_COMMANDS, &*HEAP_TRIMS_TOTAL);
    let _ = &*UDP_COALESCE_WAITS_TOTAL;
    touch_dyndns_policy();
}

// ---------------------------------------------------------------- RFC 2136 UPDATE and TSIG
pub(crate) const DNS_UPDATES: &str = "dns_updates_total";
pub(crate) const DNS_UPDATE_SECONDS: &str = "dns_update_duration_seconds";
pub(crate) const TSIG_FAILURES: &str = "tsig_failures_total";
pub(crate) const ACME_DNS_UPDATES: &str = "acme_dns_updates_total";
pub(crate) const ACME_DNS_EXPIRY_SWEEPS: &str = "acme_dns_expiry_sweeps_total";
pub(crate) const DNS_UPDATES_REJECTED: &str = "dns_updates_rejected_total";

pub(crate) static DNS_UPDATES_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(DNS_UPDATES, "RFC 2136 UPDATE messages answered, by transport and rcode", &["transport", "rcode"])
});
pub(crate) static DNS_UPDATE_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram_vec(
        DNS_UPDATE_SECONDS,
        "Time from receiving an UPDATE to its answer (commit and local apply included), by transport",
        &["transport"],
        vec![1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0],
    )
});
pub(crate) static TSIG_FAILURES_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        TSIG_FAILURES,
        "Signed requests refused for their TSIG, by message kind and TSIG error",
        &["kind", "error"],
    )
});
pub(crate) static ACME_DNS_UPDATES_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(ACME_DNS_UPDATES, "acme-dns API requests, by endpoint and result", &["endpoint", "result"])
});
pub(crate) static ACME_DNS_EXPIRY_SWEEPS_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        ACME_DNS_EXPIRY_SWEEPS,
        "ExpireRecords proposals of the leader's TXT lifetime sweep, by result",
        &["result"],
    )
});
pub(crate) static DNS_UPDATES_REJECTED_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        DNS_UPDATES_REJECTED,
        "UPDATEs refused before Raft (kept in this node's in-memory history ring), by reason",
        &["reason"],
    )
});

// ---------------------------------------------------------------- hardening (issue 9)
pub(crate) const DNS_RRL: &str = "dns_rrl_total";
pub(crate) const DNS_TCP_REFUSED: &str = "dns_tcp_refused_total";
pub(crate) const HTTP_AUTH_THROTTLED: &str = "http_auth_throttled_total";
pub(crate) const DNS_TCP_CLOSED: &str = "dns_tcp_closed_total";
pub(crate) const HTTP_TLS_HANDSHAKES: &str = "http_tls_handshakes_total";
pub(crate) const HTTP_TLS_RELOADS: &str = "http_tls_reloads_total";
pub(crate) const HTTP_TLS_CERT_LOADED_NAME: &str = "http_tls_cert_loaded_timestamp_seconds";

pub(crate) static DNS_RRL_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(DNS_RRL, "UDP responses limited by response rate limiting, by action (dropped, slipped)", &["action"])
});
pub(crate) static DNS_TCP_REFUSED_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(DNS_TCP_REFUSED, "TCP connections closed at accept, by limit (total, per_client)", &["limit"])
});
pub(crate) static DNS_TCP_CLOSED_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        DNS_TCP_CLOSED,
        "DNS TCP connections the server closed, by reason (idle, write_timeout, lifetime, queries)",
        &["reason"],
    )
});
pub(crate) static HTTP_TLS_HANDSHAKES_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        HTTP_TLS_HANDSHAKES,
        "TLS handshakes on the public HTTP port, by result (ok, error, timeout, plain_http)",
        &["result"],
    )
});
pub(crate) static HTTP_TLS_RELOADS_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        HTTP_TLS_RELOADS,
        "Reloads of the TLS certificate and key, by result (ok, error: the previous one stays)",
        &["result"],
    )
});
pub(crate) static HTTP_TLS_CERT_LOADED_TIMESTAMP: LazyLock<IntGauge> = LazyLock::new(|| {
    gauge(HTTP_TLS_CERT_LOADED_NAME, "Unix time the TLS certificate in service was loaded (0: no TLS)")
});
pub(crate) static HTTP_AUTH_THROTTLED_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        HTTP_AUTH_THROTTLED,
        "HTTP requests refused unchecked because their address failed authentication too often, by surface",
        &["surface"],
    )
});

// ---------------------------------------------------------------- dynamic DNS policy (issue 20)
pub(crate) const HTTP_AUTH_THROTTLE_TRACKED_NAME: &str = "http_auth_throttle_tracked";
pub(crate) const DYNDNS_ADDRESSES_REFUSED: &str = "dyndns_addresses_refused_total";
pub(crate) const DYNDNS_UPDATE_TRANSPORT: &str = "dyndns_update_transport_total";
pub(crate) const CHECKIP_REQUESTS: &str = "checkip_requests_total";

pub(crate) static HTTP_AUTH_THROTTLE_TRACKED: LazyLock<IntGauge> = LazyLock::new(|| {
    gauge(
        HTTP_AUTH_THROTTLE_TRACKED_NAME,
        "(client address, credential name) pairs with recent authentication failures the throttle tracks",
    )
});
pub(crate) static DYNDNS_ADDRESSES_REFUSED_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        DYNDNS_ADDRESSES_REFUSED,
        "Update requests refused because an address they would publish is refused by dyndns.refuse_addresses, by rule (a kind, or network)",
        &["rule"],
    )
});
pub(crate) static DYNDNS_UPDATE_TRANSPORT_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        DYNDNS_UPDATE_TRANSPORT,
        "Dynamic DNS update requests by how they arrived (plain, tls, proxy_tls: a trusted proxy's X-Forwarded-Proto)",
        &["transport"],
    )
});
pub(crate) static CHECKIP_REQUESTS_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_vec(
        CHECKIP_REQUESTS,
        "Check-IP requests answered (/checkip, /myip), by endpoint and the address family told",
        &["endpoint", "family"],
    )
});

/// The metrics of the dynamic DNS policy, registered up front by [`touch_all`].
fn touch_dyndns_policy() {
    let _ = (&*HTTP_AUTH_THROTTLE_TRACKED, &*DYNDNS_ADDRESSES_REFUSED_TOTAL, &*DYNDNS_UPDATE_TRANSPORT_TOTAL);
    let _ = &*CHECKIP_REQUESTS_TOTAL;
}
