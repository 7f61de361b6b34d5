//! Hand-made histories for the checkers' tests.

use super::{CheckResult, Prepared};
use crate::history::{Event, History, NodeId, Op, OpResult};

/// How a hand-made operation ends.
#[derive(Clone, Copy)]
pub(super) enum End {
    Ok(u64),
    Fail(u64),
    Info(u64),
    InFlight,
}

/// Builds a history from operations given in any order (events are sorted by time, ties
/// keeping the order they were added in).
#[derive(Default)]
pub(super) struct Builder {
    events: Vec<Event>,
}

impl Builder {
    pub(super) fn new() -> Self {
        Builder::default()
    }

    fn invoke(&mut self, process: u64, node: NodeId, time_ns: u64, op: Op) {
        self.events.push(Event::Invoke { process, time_ns, node, op });
    }

    fn complete(&mut self, process: u64, node: NodeId, end: End, result: OpResult) {
        let event = match end {
            End::Ok(time_ns) => Event::Ok { process, time_ns, node, result },
            End::Fail(time_ns) => Event::Fail { process, time_ns, node, error: "rejected".into() },
            End::Info(time_ns) => Event::Info { process, time_ns, node, error: "timeout".into() },
            End::InFlight => return,
        };
        self.events.push(event);
    }

    pub(super) fn write(mut self, process: u64, node: NodeId, host: &str, value: &str, invoke: u64, end: End) -> Self {
        self.invoke(process, node, invoke, Op::Write { host: host.into(), value: value.into() });
        self.complete(process, node, end, OpResult::Written);
        self
    }

    pub(super) fn leader_read(mut self, process: u64, node: NodeId, host: &str, invoke: u64, complete: u64, value: Option<&str>) -> Self {
        self.invoke(process, node, invoke, Op::LeaderRead { host: host.into() });
        let result = OpResult::Read { value: value.map(Into::into), serial: None, serial_before: None };
        self.complete(process, node, End::Ok(complete), result);
        self
    }

    /// A DNS read; `serial` is the bracket's serial (`serial_before` is taken equal to it
    /// unless given with [`Builder::dns_read_unbracketed`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn dns_read(mut self, process: u64, node: NodeId, host: &str, invoke: u64, complete: u64, value: Option<&str>, serial: u32) -> Self {
        self.invoke(process, node, invoke, Op::DnsRead { host: host.into() });
        let result = OpResult::Read { value: value.map(Into::into), serial: Some(serial), serial_before: Some(serial) };
        self.complete(process, node, End::Ok(complete), result);
        self
    }

    /// A DNS read whose SOA bracket did not hold: only the serial before is known.
    pub(super) fn dns_read_unbracketed(mut self, process: u64, node: NodeId, host: &str, invoke: u64, complete: u64, serial_before: u32) -> Self {
        self.invoke(process, node, invoke, Op::DnsRead { host: host.into() });
        let result = OpResult::Read { value: None, serial: None, serial_before: Some(serial_before) };
        self.complete(process, node, End::Ok(complete), result);
        self
    }

    pub(super) fn final_read(mut self, node: NodeId, host: &str, value: Option<&str>, serial: u32, time_ns: u64) -> Self {
        self.events.push(Event::Final { time_ns, node, host: host.into(), value: value.map(Into::into), serial });
        self
    }

    pub(super) fn converged(mut self, time_ns: u64, after_heal_ms: Option<u64>, bound_ms: u64) -> Self {
        self.events.push(Event::Converged { time_ns, after_heal_ms, bound_ms });
        self
    }

    pub(super) fn build(mut self) -> History {
        self.events.sort_by_key(Event::time_ns);
        History::new(self.events)
    }
}

/// A small history every checker accepts: two writes of h1 (the second concurrent with a
/// leader read that sees it), DNS reads on two nodes, final reads on three nodes that agree,
/// convergence within the bound.
pub(super) fn good_history() -> History {
    Builder::new()
        .leader_read(1, 1, "h1", 5, 8, None)
        .dns_read(2, 2, "h1", 6, 9, None, 1)
        .write(3, 1, "h1", "10.0.0.1", 10, End::Ok(20))
        .leader_read(1, 1, "h1", 21, 25, Some("10.0.0.1"))
        .dns_read(2, 2, "h1", 22, 26, Some("10.0.0.1"), 2)
        .write(3, 1, "h1", "10.0.0.2", 30, End::Ok(40))
        .leader_read(1, 3, "h1", 32, 38, Some("10.0.0.2"))
        .dns_read(2, 3, "h1", 33, 39, Some("10.0.0.1"), 2)
        .write(4, 2, "h1", "10.0.0.3", 41, End::Fail(42))
        .write(5, 2, "h2", "10.0.1.1", 43, End::Info(50))
        .dns_read(2, 2, "h1", 51, 52, Some("10.0.0.2"), 3)
        .final_read(1, "h1", Some("10.0.0.2"), 4, 100)
        .final_read(2, "h1", Some("10.0.0.2"), 4, 101)
        .final_read(3, "h1", Some("10.0.0.2"), 4, 102)
        .final_read(1, "h2", Some("10.0.1.1"), 4, 103)
        .final_read(2, "h2", Some("10.0.1.1"), 4, 104)
        .final_read(3, "h2", Some("10.0.1.1"), 4, 105)
        .converged(99, Some(1500), 30_000)
        .build()
}

/// Runs one checker on a history whose operations pair up.
pub(super) fn run(history: &History, check: fn(&Prepared) -> CheckResult) -> CheckResult {
    let ops = history.completed().expect("hand-made histories pair up");
    check(&Prepared::new(&history.events, ops))
}

/// Asserts the checker failed and one of its anomalies mentions every given fragment.
pub(super) fn assert_anomaly(result: &CheckResult, fragments: &[&str]) {
    assert!(!result.passed, "{} passed:\n{result}", result.name);
    assert!(
        result.anomalies.iter().any(|a| fragments.iter().all(|f| a.contains(f))),
        "no anomaly of {} mentions all of {fragments:?}:\n{result}",
        result.name
    );
}

/// Asserts the checker passed.
pub(super) fn assert_passed(result: &CheckResult) {
    assert!(result.passed, "{result}");
}

/// Runs one checker on [`good_history`], asserts it passed after checking `checked`
/// things, and returns its result.
pub(super) fn passes_good_history(check: fn(&Prepared) -> CheckResult, checked: u64) -> CheckResult {
    let result = run(&good_history(), check);
    assert_passed(&result);
    assert_eq!(result.checked, checked, "{result}");
    result
}
