//! Golden bytes: today's encodings of every stored and replicated value, pinned.
//!
//! Each example value (`v1.rs`: the first release's formats, `v2.rs`: format 2, `v3.rs`:
//! format 3, names beyond the classic syntax) is encoded
//! with `codec::encode` and compared with its fixture, a hex file under
//! `tests/fixtures/format/` (`command/`, `event/`, `apply_error/`, `state/`, `raft/`). The
//! fixture is decoded again and must give the example back, and the record's leading byte
//! must be the format the variant belongs to. So a change that alters how an existing
//! variant is written or read fails here: data written by an older release (logs,
//! snapshots, RPCs during a rolling upgrade) would be misread.
//!
//! Every `Command`, `Event` and `ApplyError` variant has an example: the fixture name and
//! format come from exhaustive matches below (a new variant does not compile until it has
//! a name there), and `every_variant_has_exactly_one_example` compares the examples with
//! the variant list serde derives from the enum itself (a new variant without an example
//! fails, and so do examples out of declaration order). A fixture file that no example
//! names fails too.
//!
//! The format-1 fixtures are the first release's bytes: a build of 0228f28 encoded the
//! `v1.rs` examples to exactly these fixtures, read every one of them back as its example,
//! and refused every format-2 fixture with `CodecError::Version(2)`.
//!
//! ## Adding a variant (or a format)
//!
//! Add its example at the end of the list of its format (a new format gets a new module,
//! `v3.rs`), its name and format in the match, then write its fixture with
//!
//! ```text
//! QUORUMDNS_BLESS=1 cargo test --test formats
//! ```
//!
//! which writes the fixtures that do not exist yet and never touches an existing one.
//! Commit the new file. **Never re-bless the fixture of an existing variant**: a fixture
//! that no longer matches means the format broke; keep the old encoding readable and add a
//! new format instead (`codec` and `state/format.rs` describe how).

mod v1;
mod v2;
mod v3;

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use quorumdns::codec;
use quorumdns::state::{ApplyError, ClusterVersion, Command, Event, State};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The fixture name and format of each command variant. No wildcard: a new variant
/// compiles only once it is named here.
fn command_fixture(c: &Command) -> (&'static str, u8) {
    match c {
        Command::CreateZone { .. } => ("create_zone", 1),
        Command::DeleteZone { .. } => ("delete_zone", 1),
        Command::UpdateSoa { .. } => ("update_soa", 1),
        Command::SetRecordSet { .. } => ("set_record_set", 1),
        Command::AddRecords { .. } => ("add_records", 1),
        Command::DeleteRecordSet { .. } => ("delete_record_set", 1),
        Command::ReplaceZone { .. } => ("replace_zone", 1),
        Command::Batch(_) => ("batch", 1),
        Command::SetZoneTransfer { .. } => ("set_zone_transfer", 1),
        Command::RetireNode { .. } => ("retire_node", 1),
        Command::RegisterHost { .. } => ("register_host", 1),
        Command::UnregisterHost { .. } => ("unregister_host", 1),
        Command::SetHostSecret { .. } => ("set_host_secret", 1),
        Command::UpdateHostSettings { .. } => ("update_host_settings", 1),
        Command::UpdateAddresses { .. } => ("update_addresses", 1),
        Command::RecordRefusedUpdate { .. } => ("record_refused_update", 1),
        Command::ExpireHosts { .. } => ("expire_hosts", 1),
        Command::CreateUser { .. } => ("create_user", 1),
        Command::DeleteUser { .. } => ("delete_user", 1),
        Command::AddToken { .. } => ("add_token", 1),
        Command::RevokeToken { .. } => ("revoke_token", 1),
        Command::SetDomain { .. } => ("set_domain", 1),
        Command::DeleteDomain { .. } => ("delete_domain", 1),
        Command::SetTsigKey { .. } => ("set_tsig_key", 1),
        Command::DeleteTsigKey { .. } => ("delete_tsig_key", 1),
        Command::DnsUpdate { .. } => ("dns_update", 1),
        Command::AcmeRegister { .. } => ("acme_register", 1),
        Command::AcmeSetTxt { .. } => ("acme_set_txt", 1),
        Command::ExpireRecords { .. } => ("expire_records", 1),
        Command::SetCookieSecret { .. } => ("set_cookie_secret", 1),
        Command::Group(_) => ("group", 1),
        Command::WithId { .. } => ("with_id", 2),
        Command::SetClusterVersion { .. } => ("set_cluster_version", 2),
    }
}

/// The fixture name and format of each event variant (no wildcard).
fn event_fixture(e: &Event) -> (&'static str, u8) {
    match e {
        Event::ZoneCreated { .. } => ("zone_created", 1),
        Event::ZoneDeleted { .. } => ("zone_deleted", 1),
        Event::SoaUpdated { .. } => ("soa_updated", 1),
        Event::RecordSetChanged { .. } => ("record_set_changed", 1),
        Event::ZoneReplaced { .. } => ("zone_replaced", 1),
        Event::SerialBumped { .. } => ("serial_bumped", 1),
        Event::ZoneTransferChanged { .. } => ("zone_transfer_changed", 1),
        Event::NodeRetired { .. } => ("node_retired", 1),
        Event::HostRegistered { .. } => ("host_registered", 1),
        Event::HostUnregistered { .. } => ("host_unregistered", 1),
        Event::HostSecretChanged { .. } => ("host_secret_changed", 1),
        Event::HostSettingsChanged { .. } => ("host_settings_changed", 1),
        Event::HostUpdated { .. } => ("host_updated", 1),
        Event::UserCreated { .. } => ("user_created", 1),
        Event::UserDeleted { .. } => ("user_deleted", 1),
        Event::TokenAdded { .. } => ("token_added", 1),
        Event::TokenRevoked { .. } => ("token_revoked", 1),
        Event::DomainSet { .. } => ("domain_set", 1),
        Event::DomainDeleted { .. } => ("domain_deleted", 1),
        Event::TsigKeySet { .. } => ("tsig_key_set", 1),
        Event::TsigKeyDeleted { .. } => ("tsig_key_deleted", 1),
        Event::DnsUpdated { .. } => ("dns_updated", 1),
        Event::AcmeRegistered { .. } => ("acme_registered", 1),
        Event::RecordsExpired { .. } => ("records_expired", 1),
        Event::CookieSecretRotated { .. } => ("cookie_secret_rotated", 1),
        Event::ClusterVersionSet { .. } => ("cluster_version_set", 2),
    }
}

/// The fixture name and format of each refusal (no wildcard).
fn apply_error_fixture(e: &ApplyError) -> (&'static str, u8) {
    match e {
        ApplyError::NoSuchZone(_) => ("no_such_zone", 1),
        ApplyError::ZoneExists(_) => ("zone_exists", 1),
        ApplyError::ZoneOverlap { .. } => ("zone_overlap", 1),
        ApplyError::OutOfZone { .. } => ("out_of_zone", 1),
        ApplyError::CnameConflict(_) => ("cname_conflict", 1),
        ApplyError::CnameAtApex(_) => ("cname_at_apex", 1),
        ApplyError::ApexNsRequired(_) => ("apex_ns_required", 1),
        ApplyError::TypeMismatch { .. } => ("type_mismatch", 1),
        ApplyError::SoaNotARecordSet => ("soa_not_a_record_set", 1),
        ApplyError::InvalidData(_) => ("invalid_data", 1),
        ApplyError::NestedBatch => ("nested_batch", 1),
        ApplyError::MembershipInBatch => ("membership_in_batch", 1),
        ApplyError::NoSuchHost(_) => ("no_such_host", 1),
        ApplyError::HostExists(_) => ("host_exists", 1),
        ApplyError::NameInUse(_) => ("name_in_use", 1),
        ApplyError::NoSuchDomain(_) => ("no_such_domain", 1),
        ApplyError::DomainNotAllowed { .. } => ("domain_not_allowed", 1),
        ApplyError::NoSuchUser(_) => ("no_such_user", 1),
        ApplyError::UserExists(_) => ("user_exists", 1),
        ApplyError::NoSuchToken(_) => ("no_such_token", 1),
        ApplyError::NotInBatch(_) => ("not_in_batch", 1),
        ApplyError::NoSuchTsigKey(_) => ("no_such_tsig_key", 1),
        ApplyError::NoSuchAcmeAccount(_) => ("no_such_acme_account", 1),
        ApplyError::RequestExpired(_) => ("request_expired", 2),
    }
}

fn commands() -> Vec<Command> {
    [v1::commands(), v2::commands()].concat()
}

fn events() -> Vec<Event> {
    [v1::events(), v2::events()].concat()
}

fn apply_errors() -> Vec<ApplyError> {
    [v1::apply_errors(), v2::apply_errors()].concat()
}

/// One example: its fixture, the format it must be written in, today's encoding, and how
/// to check that bytes decode to the example.
struct Case {
    fixture: String,
    format: u8,
    encoded: Vec<u8>,
    decodes_to_example: Check,
}

type Check = Box<dyn Fn(&[u8]) -> Result<(), String>>;

impl Case {
    fn new<T: Serialize + DeserializeOwned + PartialEq + Debug + 'static>(
        fixture: String,
        format: u8,
        value: T,
    ) -> Case {
        let encoded = codec::encode(&value).unwrap_or_else(|e| panic!("{fixture}: encode: {e}"));
        let decodes_to_example = Box::new(move |bytes: &[u8]| match codec::decode::<T>(bytes) {
            Ok(back) if back == value => Ok(()),
            Ok(back) => Err(format!("decodes to\n{back:#?}\ninstead of\n{value:#?}")),
            Err(e) => Err(format!("does not decode: {e}")),
        });
        Case { fixture, format, encoded, decodes_to_example }
    }
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for c in commands() {
        let (name, format) = command_fixture(&c);
        cases.push(Case::new(format!("command/{name}"), format, c));
    }
    for e in events() {
        let (name, format) = event_fixture(&e);
        cases.push(Case::new(format!("event/{name}"), format, e));
    }
    for e in apply_errors() {
        let (name, format) = apply_error_fixture(&e);
        cases.push(Case::new(format!("apply_error/{name}"), format, e));
    }
    cases.push(Case::new("state/v1".into(), 1, v1::state()));
    cases.push(Case::new("state/v2".into(), 2, v2::state()));
    cases.push(Case::new("state/v3".into(), 3, v3::state()));
    cases.push(Case::new("raft/request".into(), 1, v1::request()));
    cases.push(Case::new("raft/request_v2".into(), 2, v2::request()));
    cases.push(Case::new("raft/response".into(), 1, v1::response()));
    cases.push(Case::new("raft/response_v2".into(), 2, v2::response()));
    cases.push(Case::new("raft/request_v3".into(), 3, v3::request()));
    for (name, entry) in v1::entries() {
        cases.push(Case::new(format!("raft/{name}"), 1, entry));
    }
    for (name, entry) in v2::entries() {
        cases.push(Case::new(format!("raft/{name}"), 2, entry));
    }
    for (name, entry) in v3::entries() {
        cases.push(Case::new(format!("raft/{name}"), 3, entry));
    }
    cases.push(Case::new("raft/snapshot".into(), 1, v1::snapshot()));
    cases
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format")
}

fn fixture_path(fixture: &str) -> PathBuf {
    fixture_dir().join(format!("{fixture}.hex"))
}

fn bless() -> bool {
    std::env::var_os("QUORUMDNS_BLESS").is_some_and(|v| v == "1")
}

/// Hex, 32 bytes a line.
fn to_hex(bytes: &[u8]) -> String {
    bytes.chunks(32).map(|line| hex::encode(line) + "\n").collect()
}

/// The fixture's bytes; a missing one is written under `QUORUMDNS_BLESS=1` (never an
/// existing one) and is an error otherwise.
fn load(fixture: &str, encoded: &[u8]) -> Result<Vec<u8>, String> {
    let path = fixture_path(fixture);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let digits: String = text.split_whitespace().collect();
            hex::decode(&digits).map_err(|e| format!("{}: not hex: {e}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && bless() => {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            // Written aside and renamed: another test may read the same fixture meanwhile.
            let tmp = path.with_extension(format!("hex.{}.tmp", std::process::id()));
            std::fs::write(&tmp, to_hex(encoded)).unwrap();
            std::fs::rename(&tmp, &path).unwrap();
            eprintln!("wrote {}", path.display());
            Ok(encoded.to_vec())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "fixture tests/fixtures/format/{fixture}.hex is missing: a new example? write it with \
             `QUORUMDNS_BLESS=1 cargo test --test formats` and commit it"
        )),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn check(case: &Case) -> Result<(), String> {
    let fixture = &case.fixture;
    if case.encoded[0] != case.format {
        return Err(format!("{fixture}: written in format {} instead of {}", case.encoded[0], case.format));
    }
    let golden = load(fixture, &case.encoded)?;
    if golden != case.encoded {
        let at = golden.iter().zip(&case.encoded).take_while(|(a, b)| a == b).count();
        return Err(format!(
            "{fixture}: today's encoding differs from the fixture from byte {at} on: the format of an existing \
             variant changed (never re-bless it; add a new format)\nfixture:\n{}today:\n{}",
            to_hex(&golden),
            to_hex(&case.encoded)
        ));
    }
    (case.decodes_to_example)(&golden).map_err(|e| format!("{fixture}: the fixture {e}"))
}

#[test]
fn every_example_is_written_as_its_fixture_and_reads_back() {
    let cases = cases();
    let failures: Vec<String> = cases.iter().filter_map(|c| check(c).err()).collect();
    assert!(failures.is_empty(), "{} of {} fixtures failed:\n\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}

#[test]
fn fixture_names_are_unique_and_every_fixture_file_has_an_example() {
    let names: Vec<String> = cases().into_iter().map(|c| c.fixture).collect();
    let unique: std::collections::BTreeSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "two examples share a fixture name: {names:?}");
    let mut stale = Vec::new();
    for kind in std::fs::read_dir(fixture_dir()).expect("tests/fixtures/format exists") {
        let kind = kind.unwrap().path();
        for file in std::fs::read_dir(&kind).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_none_or(|e| e != "hex") {
                continue; // a fixture being blessed by another test right now
            }
            let rel = file.strip_prefix(fixture_dir()).unwrap().with_extension("");
            if !names.iter().any(|n| Path::new(n) == rel) {
                stale.push(file.display().to_string());
            }
        }
    }
    assert!(stale.is_empty(), "fixtures without an example (renamed or removed?): {stale:?}");
}

/// The variant names serde derived for enum `T`, in declaration order, which is the order
/// of the variant indexes bincode writes.
fn variants<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{Deserializer, Visitor};

    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("stop")
        }
    }
    impl std::error::Error for Stop {}
    impl serde::de::Error for Stop {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Stop
        }
    }
    /// Records the variant list serde hands to `deserialize_enum`, then stops.
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = Stop;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _: &'static str,
            variants: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            *self.0 = variants;
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map struct identifier ignored_any
        }
    }
    let mut found: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut found));
    assert!(!found.is_empty(), "{} is not an enum", std::any::type_name::<T>());
    found
}

fn snake_case(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Each variant of `T` has exactly one example, named after the variant.
fn covers_every_variant<T: Serialize + DeserializeOwned>(
    examples: &[T],
    fixture: impl Fn(&T) -> (&'static str, u8),
) -> Result<(), String> {
    let variants = variants::<T>();
    let mut seen = vec![0; variants.len()];
    let mut last = None;
    for e in examples {
        // The variant index, a varint right after the format byte (one byte below 251).
        let index = codec::encode(e).unwrap()[1];
        assert!(index < 251, "more variants than this test reads");
        let variant = variants[usize::from(index)];
        let (name, _) = fixture(e);
        if name != snake_case(variant) {
            return Err(format!("the example of {variant} is named {name}"));
        }
        if last.is_some_and(|l| l >= index) {
            return Err(format!("the example of {variant} is out of declaration order"));
        }
        last = Some(index);
        seen[usize::from(index)] += 1;
    }
    let wrong: Vec<String> =
        variants.iter().zip(&seen).filter(|(_, n)| **n != 1).map(|(v, n)| format!("{v}: {n} examples")).collect();
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: every variant needs exactly one example: {wrong:?}", std::any::type_name::<T>()))
    }
}

#[test]
fn every_variant_has_exactly_one_example() {
    covers_every_variant(&commands(), command_fixture).unwrap();
    covers_every_variant(&events(), event_fixture).unwrap();
    covers_every_variant(&apply_errors(), apply_error_fixture).unwrap();
}

/// The examples of a format are its variants in declaration order: a format only appends.
#[test]
fn each_format_appends_variants_at_the_end() {
    fn formats<T>(examples: &[T], fixture: impl Fn(&T) -> (&'static str, u8)) -> Vec<u8> {
        examples.iter().map(|e| fixture(e).1).collect()
    }
    for formats in [
        formats(&commands(), command_fixture),
        formats(&events(), event_fixture),
        formats(&apply_errors(), apply_error_fixture),
    ] {
        assert!(formats.is_sorted(), "a variant of an older format after a newer one: {formats:?}");
    }
}

/// Reading a format-1 state (a snapshot of the first release) migrates it: no sessions,
/// cluster version 1; otherwise the same state, written back in format 1.
#[test]
fn a_format_1_state_reads_with_empty_sessions_at_cluster_version_1() {
    let v1_bytes = load("state/v1", &codec::encode(&v1::state()).unwrap()).unwrap();
    let state: State = codec::decode(&v1_bytes).unwrap();
    assert!(state.sessions.is_empty());
    assert_eq!(state.cluster_version, ClusterVersion(1));
    let v2 = v2::state();
    assert!(!v2.sessions.is_empty() && v2.cluster_version == ClusterVersion(2));
    assert_eq!(State { sessions: v2.sessions.clone(), cluster_version: v2.cluster_version, ..state.clone() }, v2);
    assert_eq!(codec::encode(&state).unwrap(), v1_bytes);
}
