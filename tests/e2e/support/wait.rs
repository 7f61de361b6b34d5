//! Waiting for a condition instead of sleeping: poll until the check succeeds or a
//! deadline passes, then fail with what was awaited (and, when the check says, what it
//! saw last).

use std::fmt::Display;
use std::time::{Duration, Instant};

/// How often [`eventually`] and [`eventually_blocking`] poll unless told otherwise.
pub(crate) const POLL: Duration = Duration::from_millis(25);

/// The outcome of one check: `Option` (None: not yet) or `Result` (Err: not yet, and what
/// was seen instead, which the timeout message shows).
pub(crate) trait Attempt {
    type Value;
    fn into_result(self) -> Result<Self::Value, Option<String>>;
}

impl<T> Attempt for Option<T> {
    type Value = T;
    fn into_result(self) -> Result<T, Option<String>> {
        self.ok_or(None)
    }
}

impl<T, E: Display> Attempt for Result<T, E> {
    type Value = T;
    fn into_result(self) -> Result<T, Option<String>> {
        self.map_err(|e| Some(e.to_string()))
    }
}

fn timed_out(what: &dyn Display, limit: Duration, last: Option<String>) -> ! {
    match last {
        Some(seen) => panic!("timed out after {limit:?} waiting for {what}; last seen: {seen}"),
        None => panic!("timed out after {limit:?} waiting for {what}"),
    }
}

/// Runs the async check `f` every [`POLL`] until it succeeds; panics after `limit`.
pub(crate) async fn eventually<R: Attempt>(what: impl Display, limit: Duration, f: impl AsyncFnMut() -> R) -> R::Value {
    eventually_every(what, limit, POLL, f).await
}

/// [`eventually`], polling every `every`.
pub(crate) async fn eventually_every<R: Attempt>(
    what: impl Display,
    limit: Duration,
    every: Duration,
    mut f: impl AsyncFnMut() -> R,
) -> R::Value {
    let deadline = Instant::now() + limit;
    loop {
        match f().await.into_result() {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => timed_out(&what, limit, last),
            Err(_) => tokio::time::sleep(every).await,
        }
    }
}

/// [`eventually_every`] for synchronous code (no runtime): the thread sleeps between checks.
pub(crate) fn eventually_blocking<R: Attempt>(
    what: impl Display,
    limit: Duration,
    every: Duration,
    mut f: impl FnMut() -> R,
) -> R::Value {
    let deadline = Instant::now() + limit;
    loop {
        match f().into_result() {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => timed_out(&what, limit, last),
            Err(_) => std::thread::sleep(every),
        }
    }
}
