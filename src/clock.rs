//! The one place a node reads the wall clock for replicated data: the proposer's time,
//! which then travels inside the command (apply never reads a clock).

/// Unix milliseconds now, by this node's clock.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
