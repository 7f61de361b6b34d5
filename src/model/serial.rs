//! SOA serial numbers with RFC 1982 arithmetic.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Serial(pub u32);

impl Serial {
    /// The next serial: `self + 1` modulo 2^32 (RFC 1982 3.1), skipping 0 which some
    /// secondaries treat as "unset".
    pub fn next(self) -> Serial {
        match self.0.wrapping_add(1) {
            0 => Serial(1),
            n => Serial(n),
        }
    }

    /// RFC 1982 3.2: `self` is greater than `other`. Undefined pairs (exactly 2^31 apart)
    /// are reported as not greater, which keeps the caller bumping instead of jumping.
    pub fn is_after(self, other: Serial) -> bool {
        let (i1, i2) = (self.0, other.0);
        (i1 < i2 && i2 - i1 > (1 << 31)) || (i1 > i2 && i1 - i2 < (1 << 31))
    }

    /// The serial to use when an operator proposes `wanted` (e.g. from an imported zone
    /// file): taken if it moves forward, otherwise the next one.
    pub fn advance_to(self, wanted: Serial) -> Serial {
        if wanted.is_after(self) {
            wanted
        } else {
            self.next()
        }
    }
}

impl std::fmt::Display for Serial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn next_wraps_past_zero() {
        assert_eq!(Serial(u32::MAX).next(), Serial(1));
        assert!(Serial(1).is_after(Serial(u32::MAX)));
    }

    proptest! {
        #[test]
        fn next_is_always_after(s in any::<u32>()) {
            prop_assert!(Serial(s).next().is_after(Serial(s)));
            prop_assert!(!Serial(s).is_after(Serial(s).next()));
        }

        #[test]
        fn advance_to_never_goes_backwards(s in any::<u32>(), w in any::<u32>()) {
            let r = Serial(s).advance_to(Serial(w));
            prop_assert!(r.is_after(Serial(s)));
        }
    }
}
