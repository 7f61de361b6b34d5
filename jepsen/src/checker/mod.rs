//! One invariant per file. Each checker takes the history and returns a [`Verdict`].
//! (Filled in by the checker work; see docs/jepsen.md.)
