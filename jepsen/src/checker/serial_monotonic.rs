use super::{CheckResult, Prepared};
pub(super) fn check(_p: &Prepared) -> CheckResult { CheckResult::new("serial_monotonic", "todo") }
