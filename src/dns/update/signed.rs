//! TSIG on ordinary queries (RFC 8945 §5.3): a signed query gets a signed answer, a query
//! with a bad TSIG gets NOTAUTH with the TSIG error. nsupdate signs the SOA query it sends
//! before an UPDATE and gives up on an unsigned answer.
//!
//! The query path answers first, then [`finish`] looks at the query again. A TSIG RR is
//! the last RR and, as sent by every client, ends with Other Len 0 after the original ID
//! (= the message ID): that two-comparison test keeps the full walk off the hot path.

use super::super::rr;
use super::super::tsig::{self, KeyRing, ResponseSigner, Verified};
use super::super::wire::HEADER_LEN;
use crate::metrics::TSIG_FAILURES_TOTAL;
use crate::state::rfc2136::rcode;

/// Cheap test: could this query end with a TSIG RR?
fn maybe_signed(q: &[u8]) -> bool {
    let n = q.len();
    n > HEADER_LEN + 20 && q[10..12] != [0, 0] && q[n - 2..] == [0, 0] && q[n - 6..n - 4] == q[0..2]
}

/// Signs `out` (the answer to `query`) when the query was signed with a known key, or
/// replaces it with NOTAUTH + TSIG error when the signature does not verify.
pub fn finish(keys: &KeyRing, query: &[u8], out: &mut Vec<u8>) {
    if out.len() < HEADER_LEN || !maybe_signed(query) {
        return;
    }
    let Some(layout) = rr::layout(query) else { return };
    let Ok(Some(t)) = tsig::find(query, &layout) else { return };
    let now = tsig::now();
    match tsig::verify_request(query, Some(t), keys, now) {
        Verified::Unsigned => {}
        Verified::Valid { key, request_mac } => ResponseSigner::new(key, request_mac).sign(out, now),
        Verified::Invalid { error, tsig, key } => {
            TSIG_FAILURES_TOTAL.with_label_values(&["query", super::tsig_error_name(error)]).inc();
            let question_len = match layout.questions.as_slice() {
                [(start, end, _, _)] => end + 4 - start,
                _ => 0,
            };
            out.truncate((HEADER_LEN + question_len).min(out.len()));
            out[2] &= !0x06; // no AA, no TC
            out[3] = (out[3] & 0xf0) | rcode::NOTAUTH as u8;
            out[6..12].fill(0);
            tsig::append_error(out, error, &tsig, key.as_deref(), now);
        }
    }
}
