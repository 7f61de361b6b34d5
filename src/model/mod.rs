//! Pure domain types: names, record data, zones, serials. No IO.

pub mod cookie;
pub mod name;
pub mod node;
pub mod presentation;
pub mod rcode;
pub mod record;
pub mod serial;
pub mod text;
pub mod transfer;
pub mod tsig;
pub mod zone;
pub mod zonefile;

pub use name::{Fqdn, NameError};
pub use node::Node;
pub use record::{RData, RDataError, RType, RecordSet, RecordSpec};
pub use serial::Serial;
pub use transfer::ZoneTransfer;
pub use zone::{SoaParams, Zone};
