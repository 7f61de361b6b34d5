//! The history as it is being written: one clock (the runner's `Instant` at start), events
//! appended under one lock so their times are monotonic in file order, and fresh process
//! ids for clients whose operation ended unknown.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::history::{Event, NodeId, Op, OpResult};

pub struct Recorder {
    start: Instant,
    events: Mutex<Vec<Event>>,
    next_process: AtomicU64,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder { start: Instant::now(), events: Mutex::new(Vec::new()), next_process: AtomicU64::new(0) }
    }
}

impl Recorder {
    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Appends the event built from the current time (taken under the lock).
    pub fn record(&self, build: impl FnOnce(u64) -> Event) {
        let mut events = self.events.lock().expect("history lock");
        let t = self.now_ns();
        events.push(build(t));
    }

    pub fn new_process(&self) -> u64 {
        self.next_process.fetch_add(1, Ordering::Relaxed)
    }

    pub fn invoke(&self, process: u64, node: NodeId, op: Op) {
        self.record(|time_ns| Event::Invoke { process, time_ns, node, op });
    }

    pub fn ok(&self, process: u64, node: NodeId, result: OpResult) {
        self.record(|time_ns| Event::Ok { process, time_ns, node, result });
    }

    pub fn fail(&self, process: u64, node: NodeId, error: String) {
        self.record(|time_ns| Event::Fail { process, time_ns, node, error });
    }

    pub fn info(&self, process: u64, node: NodeId, error: String) {
        self.record(|time_ns| Event::Info { process, time_ns, node, error });
    }

    pub fn nemesis(&self, name: &str, start: bool, detail: String) {
        eprintln!(
            "[{:7.2}s] nemesis {name} {} {detail}",
            self.now_ns() as f64 / 1e9,
            if start { "start" } else { "stop " }
        );
        self.record(|time_ns| Event::Nemesis { time_ns, name: name.to_string(), start, detail });
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.lock().expect("history lock").clone()
    }
}
