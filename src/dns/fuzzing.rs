//! A fixed state with a few zones for the fuzz targets (fuzz/) and the regression tests
//! of what they find: delegation with glue, wildcards, CNAME chains and loops, a large
//! RRset that truncates over UDP, and a second zone.

use crate::model::{Fqdn, RData, RType, RecordSet, Serial, SoaParams, Zone};
use crate::state::State;

const ROWS: &[(&str, &str, RType, &str)] = &[
    ("example.test", "example.test", RType::Ns, "ns1.example.test."),
    ("example.test", "example.test", RType::Mx, "10 mail.example.test."),
    ("example.test", "ns1.example.test", RType::A, "192.0.2.53"),
    ("example.test", "ns1.example.test", RType::Aaaa, "2001:db8::53"),
    ("example.test", "www.example.test", RType::A, "192.0.2.1"),
    ("example.test", "*.wild.example.test", RType::A, "192.0.2.99"),
    ("example.test", "*.wc.example.test", RType::Cname, "www.example.test."),
    ("example.test", "alias.example.test", RType::Cname, "www.example.test."),
    ("example.test", "loop1.example.test", RType::Cname, "loop2.example.test."),
    ("example.test", "loop2.example.test", RType::Cname, "loop1.example.test."),
    ("example.test", "deleg.example.test", RType::Ns, "ns.deleg.example.test."),
    ("example.test", "ns.deleg.example.test", RType::A, "192.0.2.100"),
    ("example.test", "_sip._tcp.example.test", RType::Srv, "1 2 5060 www.example.test."),
    ("dyn.example.org", "dyn.example.org", RType::Ns, "ns1.example.test."),
    ("dyn.example.org", "h.dyn.example.org", RType::A, "198.51.100.7"),
    ("dyn.example.org", "h.dyn.example.org", RType::Aaaa, "2001:db8::7"),
];

/// The fuzzing state. Panics only on a bug in the fixed data above.
pub fn state() -> State {
    let mut state = State::default();
    for origin in ["example.test", "dyn.example.org"] {
        let origin = Fqdn::parse(origin).expect("fixed name");
        let mut zone = Zone::new(origin.clone(), SoaParams::defaults_for(&origin), Serial(1));
        for (z, name, t, data) in ROWS.iter().filter(|r| Fqdn::parse(r.0).ok().as_ref() == Some(&origin)) {
            let _ = z;
            let name = Fqdn::parse(name).expect("fixed name");
            let rdata = RData::parse(*t, data).expect("fixed rdata");
            let sets = zone.nodes.entry(name).or_default();
            match sets.get_mut(t) {
                Some(set) => set.data.push(rdata),
                None => {
                    sets.insert(*t, RecordSet::new(300, vec![rdata]));
                }
            }
        }
        let big = Fqdn::parse("big.example.test").expect("fixed name");
        if origin.to_dotted().starts_with("example.test") {
            let txt = (0..20).map(|i| RData::parse(RType::Txt, &format!("\"{i}{}\"", "x".repeat(200))).expect("fixed txt")).collect();
            zone.nodes.entry(big).or_default().insert(RType::Txt, RecordSet::new(300, txt));
        }
        state.zones.insert(origin, zone);
    }
    state
}
