//! Zone files through the API with real tools on both sides: a file of names that need
//! escapes (RFC 1035 5.1, RFC 2181 11, RFC 4592 2.1.1) that `named-checkzone` accepts
//! is imported whole, every name answers (dig), and the export is the same zone as the
//! input once BIND's `named-checkzone -D` has normalised both; a file with a bad line is
//! refused with that line and changes nothing.

use std::path::Path;
use std::process::Command;

use reqwest::Method;

use crate::support::{Node, Rcode, TOKEN};

const ORIGIN: &str = "esc.test";

/// The names of issue 19 and a few more, one record each (owner, type, data).
const RECORDS: &[(&str, &str, &str)] = &[
    ("x.*.w5", "A", "192.0.2.10"),
    ("dot\\.label", "A", "192.0.2.11"),
    ("sp\\032ace", "A", "192.0.2.12"),
    ("x\\200y", "A", "192.0.2.13"),
    ("under_score", "A", "192.0.2.14"),
    ("quote\\\"d", "A", "192.0.2.15"),
    ("semi\\;colon", "TXT", "\"x\""),
    ("mid_under.score_", "AAAA", "2001:db8::16"),
    ("-lead", "A", "192.0.2.17"),
    ("paren\\(s\\)", "A", "192.0.2.18"),
    ("at\\@\\$", "A", "192.0.2.19"),
    ("back\\\\slash", "MX", "10 dot\\.label"),
    ("tab\\009", "CNAME", "under_score"),
    ("txt", "TXT", "\"semi;colon\" \"q\\\"uote\" \"\\200\\001\""),
];

fn zone_text() -> String {
    let mut text = format!(
        "$ORIGIN {ORIGIN}.\n$TTL 300\n@ 3600 IN SOA ns1 hostmaster 2024060101 3600 600 1209600 60\n@ NS ns1\nns1 A 192.0.2.1\n"
    );
    for (name, t, data) in RECORDS {
        text.push_str(&format!("{name} {t} {data} ; a comment\n"));
    }
    text
}

/// `named-checkzone -D`'s normalised form of a zone file: one absolute record per line.
fn normalised(file: &Path) -> Vec<String> {
    let out = Command::new("named-checkzone")
        .args(["-q", "-D", "-o", "-", ORIGIN])
        .arg(file)
        .output()
        .expect("named-checkzone runs (bind9-utils)");
    assert!(
        out.status.success(),
        "named-checkzone accepts {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    lines.sort();
    lines
}

#[tokio::test(flavor = "multi_thread")]
async fn escaped_names_import_completely_answer_and_export_identically() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("node"));
    let input = dir.path().join("input.zone");
    std::fs::write(&input, zone_text()).unwrap();
    let want = normalised(&input);
    assert_eq!(want.len(), RECORDS.len() + 3, "{want:#?}");

    let client = reqwest::Client::new();
    let url = node.url(&format!("/api/v1/zones/{ORIGIN}/import"));
    let resp = client.put(&url).bearer_auth(TOKEN).body(zone_text()).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());

    for (name, t, _) in RECORDS {
        let fqdn = format!("{name}.{ORIGIN}.");
        // -q: a name may start with '-'.
        let d = node.dig(&["-q", &fqdn, "-t", t]);
        assert_eq!(d.rcode, Rcode::NoError, "{fqdn} {t}\n{}", d.raw);
        assert!(!d.answer.is_empty() && d.flags.aa, "{fqdn} {t} answers\n{}", d.raw);
    }

    let (s, text) = node.api(Method::GET, &format!("/api/v1/zones/{ORIGIN}/export"), None).await;
    assert_eq!(s, 200);
    let exported = dir.path().join("exported.zone");
    std::fs::write(&exported, text.as_str().expect("zone file text")).unwrap();
    assert_eq!(normalised(&exported), want, "the export is the imported zone");

    // A bad line refuses the whole file, names the line, and changes nothing.
    let bad = format!("{}good A 192.0.2.30\nbad A 192.0.2.300\n", zone_text());
    let resp = client.put(&url).bearer_auth(TOKEN).body(bad).send().await.unwrap();
    assert_eq!(resp.status(), 422);
    let body = resp.text().await.unwrap();
    let bad_line = zone_text().lines().count() + 2;
    assert!(body.contains(&format!("line {bad_line}")), "{body}");
    let d = node.dig(&[&format!("good.{ORIGIN}."), "A"]);
    assert_eq!(d.rcode, Rcode::NxDomain, "nothing of the refused file was applied\n{}", d.raw);
}
