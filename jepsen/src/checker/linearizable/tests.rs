//! Hand-made good and bad histories, and the agreement of [`check_register`] with an
//! exhaustive search on thousands of small random histories.

use std::collections::HashSet;

use super::super::test_support::{assert_anomaly, assert_passed, passes_good_history, run, Builder, End, Rng};
use super::*;

#[test]
fn good_history_is_linearizable() {
    passes_good_history(check, 6);
}

#[test]
fn stale_leader_read_after_ack() {
    let h = Builder::new()
        .write(1, 1, "h1", "10.0.0.1", 10, End::Ok(20))
        .write(1, 1, "h1", "10.0.0.2", 30, End::Ok(40))
        .leader_read(2, 2, "h1", 41, 45, Some("10.0.0.1"))
        .build();
    assert_anomaly(&run(&h, check), &["h1:", "10.0.0.2", "10.0.0.1", "process 2 on node 2"]);
}

#[test]
fn initial_value_read_after_ack() {
    let h = Builder::new().write(1, 1, "h1", "10.0.0.1", 10, End::Ok(20)).leader_read(2, 2, "h1", 21, 25, None).build();
    assert_anomaly(&run(&h, check), &["<none> must stay current over [start .. ", "process 2"]);
}

#[test]
fn reads_going_back_in_time_while_writes_are_concurrent() {
    // Both writes are concurrent with both reads, but once a read saw the second value a
    // later read cannot see the first one again.
    let h = Builder::new()
        .write(1, 1, "h1", "10.0.0.1", 10, End::Ok(100))
        .write(2, 2, "h1", "10.0.0.2", 11, End::Ok(100))
        .leader_read(3, 3, "h1", 12, 20, Some("10.0.0.1"))
        .leader_read(3, 3, "h1", 21, 30, Some("10.0.0.2"))
        .leader_read(3, 3, "h1", 31, 40, Some("10.0.0.1"))
        .build();
    assert_anomaly(
        &run(&h, check),
        &["10.0.0.2 must be written and read within", "but 10.0.0.1 must stay current", "leader read h1 [0.000000031s"],
    );
    let fine = Builder::new()
        .write(1, 1, "h1", "10.0.0.1", 10, End::Ok(100))
        .write(2, 2, "h1", "10.0.0.2", 11, End::Ok(100))
        .leader_read(3, 3, "h1", 12, 20, Some("10.0.0.1"))
        .leader_read(3, 3, "h1", 21, 30, Some("10.0.0.2"))
        .leader_read(3, 3, "h1", 31, 40, Some("10.0.0.2"))
        .build();
    assert_passed(&run(&fine, check));
}

#[test]
fn unknown_writes_take_effect_late_or_never() {
    let h = Builder::new()
        .write(1, 1, "h1", "10.0.0.1", 10, End::Info(20))
        .write(2, 1, "h1", "10.0.0.2", 30, End::Ok(40))
        .write(3, 1, "h1", "10.0.0.3", 41, End::InFlight)
        .leader_read(4, 2, "h1", 50, 55, Some("10.0.0.2"))
        .leader_read(4, 2, "h1", 60, 65, Some("10.0.0.1"))
        .build();
    assert_passed(&run(&h, check));
    let h = Builder::new()
        .write(1, 1, "h1", "10.0.0.1", 10, End::Info(20))
        .write(2, 1, "h1", "10.0.0.2", 30, End::Ok(40))
        .leader_read(4, 2, "h1", 50, 55, Some("10.0.0.1"))
        .leader_read(4, 2, "h1", 60, 65, Some("10.0.0.2"))
        .build();
    assert_anomaly(&run(&h, check), &["10.0.0.1 must be written and read within", "but 10.0.0.2 must stay current"]);
}

#[test]
fn failed_write_read_and_read_before_write() {
    let h = Builder::new()
        .write(1, 1, "h1", "10.0.0.1", 10, End::Fail(20))
        .leader_read(2, 2, "h1", 21, 25, Some("10.0.0.1"))
        .write(3, 1, "h1", "10.0.0.2", 30, End::Ok(40))
        .leader_read(2, 2, "h1", 26, 28, Some("10.0.0.2"))
        .build();
    let result = run(&h, check);
    assert_anomaly(&result, &["no acknowledged or unknown write", "process 2"]);
    assert_anomaly(&result, &["completed before its value's write was invoked", "process 3"]);
}

#[test]
fn dns_reads_are_not_on_the_leader_path() {
    let h = Builder::new().write(1, 1, "h1", "10.0.0.1", 10, End::Ok(20)).dns_read(2, 2, "h1", 21, 25, None, 1).build();
    assert_passed(&run(&h, check));
}

#[test]
fn touching_zones_are_concurrent() {
    // Forward zones [1, 5] and [5, 9] share only an instant: a linearization exists.
    let writes = [RegWrite { invoke: 0, complete: Some(1) }, RegWrite { invoke: 4, complete: Some(5) }];
    let reads = [
        RegRead { invoke: 5, complete: 6, of: ReadOf::Write(0) },
        RegRead { invoke: 9, complete: 10, of: ReadOf::Write(1) },
    ];
    assert!(check_register(&writes, &reads).is_empty());
    assert!(exhaustive(&writes, &reads));
}

/// The exhaustive reference: depth-first search over linearization prefixes (the set of
/// operations placed and the register's value), memoizing dead states. An operation can be
/// placed next when no unplaced required operation precedes it in real time; unknown writes
/// are optional and never precede anything.
fn exhaustive(writes: &[RegWrite], reads: &[RegRead]) -> bool {
    struct Search<'a> {
        writes: &'a [RegWrite],
        reads: &'a [RegRead],
        required: u32,
        dead: HashSet<(u32, ReadOf)>,
    }
    impl Search<'_> {
        fn interval(&self, op: usize) -> (u64, Option<u64>) {
            match op.checked_sub(self.writes.len()) {
                None => (self.writes[op].invoke, self.writes[op].complete),
                Some(j) => (self.reads[j].invoke, Some(self.reads[j].complete)),
            }
        }
        fn search(&mut self, placed: u32, value: ReadOf) -> bool {
            if placed & self.required == self.required {
                return true;
            }
            if self.dead.contains(&(placed, value)) {
                return false;
            }
            let n = self.writes.len() + self.reads.len();
            for op in (0..n).filter(|op| placed & (1 << op) == 0) {
                let invoke = self.interval(op).0;
                let blocked = (0..n).any(|x| {
                    x != op
                        && placed & (1 << x) == 0
                        && self.required & (1 << x) != 0
                        && self.interval(x).1.is_some_and(|c| c < invoke)
                });
                if blocked {
                    continue;
                }
                let next = match op.checked_sub(self.writes.len()) {
                    None => ReadOf::Write(op),
                    Some(j) if self.reads[j].of == value => value,
                    Some(_) => continue,
                };
                if self.search(placed | (1 << op), next) {
                    return true;
                }
            }
            self.dead.insert((placed, value));
            false
        }
    }
    let mut required = 0u32;
    for (i, w) in writes.iter().enumerate() {
        if w.complete.is_some() {
            required |= 1 << i;
        }
    }
    for j in 0..reads.len() {
        required |= 1 << (writes.len() + j);
    }
    Search { writes, reads, required, dead: HashSet::new() }.search(0, ReadOf::Initial)
}

/// A history of a linearizable register: `processes` clients issue `ops` operations in
/// total, with random latencies on a coarse clock (so that ties are frequent); each
/// operation takes effect at a random instant of its interval (an unknown write at any
/// later instant, or never).
fn simulate(rng: &mut Rng, processes: usize, ops: usize, max_latency: u64) -> (Vec<RegWrite>, Vec<RegRead>) {
    enum Planned {
        Write(usize),
        Read(usize),
    }
    let mut clock = vec![0u64; processes];
    let mut writes = Vec::new();
    let mut reads = Vec::new();
    let mut effects: Vec<(u64, u64, Planned)> = Vec::new();
    for _ in 0..ops {
        let p = rng.below(processes as u64) as usize;
        let invoke = clock[p] + rng.below(3);
        let complete = invoke + rng.below(max_latency + 1);
        clock[p] = complete + 1;
        let at = invoke + rng.below(complete - invoke + 1);
        if rng.chance(50) {
            let unknown = rng.chance(20);
            writes.push(RegWrite { invoke, complete: if unknown { None } else { Some(complete) } });
            if !unknown || rng.chance(50) {
                let at = if unknown { invoke + rng.below(2 * max_latency + 2) } else { at };
                effects.push((at, rng.next(), Planned::Write(writes.len() - 1)));
            }
        } else {
            reads.push(RegRead { invoke, complete, of: ReadOf::Initial });
            effects.push((at, rng.next(), Planned::Read(reads.len() - 1)));
        }
    }
    effects.sort_by_key(|(at, tie, _)| (*at, *tie));
    let mut value = ReadOf::Initial;
    for (_, _, planned) in effects {
        match planned {
            Planned::Write(i) => value = ReadOf::Write(i),
            Planned::Read(j) => reads[j].of = value,
        }
    }
    (writes, reads)
}

/// A random change that may break linearizability: a read returns another value, an
/// operation moves, or a write's outcome changes.
fn mutate(rng: &mut Rng, writes: &mut [RegWrite], reads: &mut [RegRead]) {
    match rng.below(4) {
        0 if !reads.is_empty() => {
            let j = rng.below(reads.len() as u64) as usize;
            let pick = rng.below(writes.len() as u64 + 2);
            reads[j].of = match pick.checked_sub(2) {
                Some(i) => ReadOf::Write(i as usize),
                None if pick == 0 => ReadOf::Initial,
                None => ReadOf::Nothing,
            };
        }
        1 if !reads.is_empty() => {
            let j = rng.below(reads.len() as u64) as usize;
            let shift = rng.below(6);
            reads[j].invoke += shift;
            reads[j].complete += shift + rng.below(3);
        }
        2 if !writes.is_empty() => {
            let i = rng.below(writes.len() as u64) as usize;
            writes[i].complete = match writes[i].complete {
                Some(_) => None,
                None => Some(writes[i].invoke + rng.below(4)),
            };
        }
        _ if !writes.is_empty() => {
            let i = rng.below(writes.len() as u64) as usize;
            let shift = rng.below(6);
            writes[i].invoke += shift;
            writes[i].complete = writes[i].complete.map(|c| c + shift + rng.below(3));
        }
        _ => {}
    }
}

#[test]
fn agrees_with_exhaustive_search_on_random_histories() {
    let mut rng = Rng(7);
    let (mut linearizable, mut not) = (0, 0);
    for round in 0..10_000 {
        let (mut writes, mut reads) = simulate(&mut rng, 2 + round % 3, 3 + round % 10, 1 + (round % 5) as u64);
        let simulated = round % 3 == 0;
        if !simulated {
            for _ in 0..1 + rng.below(2) {
                mutate(&mut rng, &mut writes, &mut reads);
            }
        }
        let expected = exhaustive(&writes, &reads);
        let violations = check_register(&writes, &reads);
        assert_eq!(
            violations.is_empty(),
            expected,
            "round {round}: writes {writes:?} reads {reads:?} violations {violations:?}"
        );
        if simulated {
            assert!(expected, "the simulated register is linearizable: writes {writes:?} reads {reads:?}");
        }
        if expected {
            linearizable += 1;
        } else {
            not += 1;
        }
    }
    // Both verdicts are well represented, so the agreement means something.
    eprintln!("linearizable {linearizable}, not {not}");
    assert!(linearizable > 5000 && not > 1500, "linearizable {linearizable}, not {not}");
}
