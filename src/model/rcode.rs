//! DNS response codes (RFC 1035, RFC 2136 §2.2, RFC 6891), shared by the query path,
//! UPDATE and the state machine.

pub const NOERROR: u16 = 0;
pub const FORMERR: u16 = 1;
pub const SERVFAIL: u16 = 2;
pub const NXDOMAIN: u16 = 3;
pub const NOTIMP: u16 = 4;
pub const REFUSED: u16 = 5;
pub const YXDOMAIN: u16 = 6;
pub const YXRRSET: u16 = 7;
pub const NXRRSET: u16 = 8;
pub const NOTAUTH: u16 = 9;
pub const NOTZONE: u16 = 10;
/// Extended rcode (RFC 6891): carried in the OPT record.
pub const BADVERS: u16 = 16;

pub fn name(code: u16) -> &'static str {
    match code {
        NOERROR => "NOERROR",
        FORMERR => "FORMERR",
        SERVFAIL => "SERVFAIL",
        NXDOMAIN => "NXDOMAIN",
        NOTIMP => "NOTIMP",
        REFUSED => "REFUSED",
        YXDOMAIN => "YXDOMAIN",
        YXRRSET => "YXRRSET",
        NXRRSET => "NXRRSET",
        NOTAUTH => "NOTAUTH",
        NOTZONE => "NOTZONE",
        BADVERS => "BADVERS",
        _ => "OTHER",
    }
}
