use crate::secret::Secret;
use std::path::Path;

use super::*;

const MINIMAL: &str = r#"
[node]
id = 3
data_dir = "/tmp/x"
dns_addr = "127.0.0.1:53"
http_addr = "127.0.0.1:80"
raft_addr = "127.0.0.1:7000"

[dyndns]
public_url = "https://dyn.example.org"
"#;

#[test]
fn the_embedded_dev_config_is_valid() {
    let c = Config::dev();
    c.validate().unwrap();
    assert_eq!(c.node.dns_addr.to_string(), "127.0.0.1:5353");
    assert_eq!(c.node.http_addr.to_string(), "127.0.0.1:8053");
    assert_eq!(c.node.raft_addr.to_string(), "127.0.0.1:7053");
    assert_eq!(c.node.data_dir, std::path::PathBuf::from(DEV_DATA_DIR));
    assert_eq!(c.zones[0].name.as_str(), DEV_ZONE);
}

#[test]
fn a_minimal_file_gets_defaults() {
    let c = Config::from_toml(MINIMAL, Path::new("t.toml")).unwrap();
    assert_eq!(c.node.id, 3);
    assert!(c.cluster.bootstrap);
    assert_eq!(c.dns.tcp_max_connections, 1024);
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let text = format!("{MINIMAL}\n[dns]\ntcp_idle_timeout_secs = 5\nbogus_key = 1\n");
    let err = Config::from_toml(&text, Path::new("t.toml")).unwrap_err().to_string();
    assert!(err.contains("bogus_key"), "{err}");
    assert!(err.contains("line 14"), "{err}");
    assert!(err.contains("t.toml"), "{err}");
}

#[test]
fn bad_values_are_refused_clearly() {
    let bad_addr = MINIMAL.replace("127.0.0.1:53", "not-an-address");
    let err = Config::from_toml(&bad_addr, Path::new("t.toml")).unwrap_err().to_string();
    assert!(err.contains("line 5"), "{err}");
    let zero = MINIMAL.replace("id = 3", "id = 0");
    assert!(Config::from_toml(&zero, Path::new("t.toml")).unwrap_err().to_string().contains("node.id"));
    let same = MINIMAL.replace("127.0.0.1:7000", "127.0.0.1:80");
    assert!(Config::from_toml(&same, Path::new("t.toml")).unwrap_err().to_string().contains("raft_addr"));
    let bad_zone = format!("{MINIMAL}\n[[zone]]\nname = \"a..b\"\nns = [\"ns1.a\"]\n");
    assert!(Config::from_toml(&bad_zone, Path::new("t.toml")).is_err());
}

#[test]
fn overrides_win_over_the_file() {
    let c = Config::dev()
        .apply(&Overrides {
            dns_addr: Some("127.0.0.1:0".parse().unwrap()),
            data_dir: Some("/d".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(c.node.dns_addr.port(), 0);
    assert_eq!(c.node.data_dir, std::path::PathBuf::from("/d"));
}

#[test]
fn secrets_compare_in_constant_time_and_never_print() {
    let s = Secret::new("0123456789abcdef0123", "test").unwrap();
    assert!(s.matches(b"0123456789abcdef0123"));
    assert!(!s.matches(b"0123456789abcdef0124"));
    assert!(!format!("{s:?}").contains("0123"));
    assert!(Secret::new("short", "test").is_err());
}

#[test]
fn the_documented_example_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/example-config.toml");
    let c = Config::from_file(&path).unwrap();
    assert_eq!(c.zones.len(), 1);
}

#[test]
fn dyndns_section_has_defaults_and_refuses_unknown_keys() {
    let base = "[node]\nid = 1\ndata_dir = \"d\"\ndns_addr = \"127.0.0.1:1\"\nhttp_addr = \"127.0.0.1:2\"\nraft_addr = \"127.0.0.1:3\"\n[dyndns]\npublic_url = \"https://dyn.example.org\"\n";
    let c = Config::from_toml(base, Path::new("t.toml")).unwrap();
    let want = crate::dyndns::config::DyndnsConfig {
        public_url: Some("https://dyn.example.org".into()),
        ..crate::dyndns::config::DyndnsConfig::default()
    };
    assert_eq!(c.dyndns, want);
    assert!(c.dyndns.credential_cache);
    assert_eq!((c.dyndns.min_update_interval_secs, c.dyndns.update_burst), (60, 10));
    let c = Config::from_toml(
        &format!("{base}min_update_interval_secs = 0\ntrusted_proxies = [\"10.0.0.0/8\"]\n"),
        Path::new("t.toml"),
    )
    .unwrap();
    assert_eq!(c.dyndns.min_update_interval_secs, 0);
    assert_eq!(c.dyndns.trusted_proxies.len(), 1);
    let err = Config::from_toml(&format!("{base}min_interval = 3\n"), Path::new("t.toml")).unwrap_err();
    assert!(err.to_string().contains("min_interval"), "{err}");
    let c = Config::from_toml(
        &format!("{base}update_burst = 4\nrefuse_addresses = [\"loopback\", \"private\", \"198.51.100.0/24\"]\n"),
        Path::new("t.toml"),
    )
    .unwrap();
    assert_eq!(c.dyndns.update_burst, 4);
    let rules: Vec<String> = c.dyndns.refuse_addresses.iter().map(ToString::to_string).collect();
    assert_eq!(rules, ["loopback", "private", "198.51.100.0/24"]);
    let err = Config::from_toml(&format!("{base}refuse_addresses = [\"lopback\"]\n"), Path::new("t.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("lopback") && err.contains("line 9"), "{err}");
    let err = Config::from_toml(&format!("{base}update_burst = 0\n"), Path::new("t.toml")).unwrap_err().to_string();
    assert!(err.contains("update_burst"), "{err}");
}

#[test]
fn the_public_url_is_required_outside_dev_and_checked() {
    let without = MINIMAL.replace("public_url = \"https://dyn.example.org\"\n", "");
    let err = Config::from_toml(&without, Path::new("t.toml")).unwrap_err().to_string();
    assert!(err.contains("dyndns.public_url is required"), "{err}");
    assert!(Config::dev().dyndns.public_url.is_none(), "serve --dev derives it from the listen address");
    let bad = MINIMAL.replace("https://dyn.example.org", "dyn.example.org/update");
    let err = Config::from_toml(&bad, Path::new("t.toml")).unwrap_err().to_string();
    assert!(err.contains("dyndns.public_url"), "{err}");
}

#[test]
fn acme_dns_registration_needs_the_admin_token_unless_opened() {
    let zone = "\n[[zone]]\nname = \"z.test\"\nns = [\"ns1.z.test\"]\nacme_dns = true\n";
    let c = Config::from_toml(&format!("{MINIMAL}{zone}"), Path::new("t.toml")).unwrap();
    assert!(!c.acme_dns().open_registration);
    let open = format!("{MINIMAL}\n[http]\nacme_dns_open_registration = true\n{zone}");
    assert!(Config::from_toml(&open, Path::new("t.toml")).unwrap().acme_dns().open_registration);
}

#[test]
fn a_tls_certificate_without_its_key_is_refused() {
    let text = format!("{MINIMAL}\n[http]\ntls_cert = \"/etc/quorumdns/cert.pem\"\n");
    let err = Config::from_toml(&text, Path::new("t.toml")).unwrap_err().to_string();
    assert!(err.contains("tls_cert and http.tls_key go together"), "{err}");
    let text =
        format!("{MINIMAL}\n[http]\ntls_cert = \"/c.pem\"\ntls_key = \"/k.pem\"\nplain_addr = \"127.0.0.1:9053\"\n");
    let c = Config::from_toml(&text, Path::new("t.toml")).unwrap();
    assert_eq!(c.http.tls_files(), Some((Path::new("/c.pem"), Path::new("/k.pem"))));
    assert_eq!(c.dns.tcp_max_lifetime_secs, 120);
    assert_eq!(c.dns.udp_coalesce_us, crate::dns::config::DEFAULT_UDP_COALESCE_US);
    assert_eq!(c.dns.tcp_max_queries, 0, "no query cap by default: closing a busy pipelined connection loses queries");
}

#[test]
fn the_acme_dns_txt_lifetime_defaults_to_a_day_and_must_be_positive() {
    let zone = |extra: &str| {
        format!("{MINIMAL}\n[[zone]]\nname = \"z.test\"\nns = [\"ns1.z.test\"]\nacme_dns = true\n{extra}\n")
    };
    let c = Config::from_toml(&zone(""), Path::new("t.toml")).unwrap();
    assert_eq!(c.zones[0].acme_dns_txt_lifetime_secs, 86_400);
    let c = Config::from_toml(&zone("acme_dns_txt_lifetime_secs = 5"), Path::new("t.toml")).unwrap();
    assert_eq!(c.zones[0].acme_dns_txt_lifetime_secs, 5);
    let err = Config::from_toml(&zone("acme_dns_txt_lifetime_secs = 0"), Path::new("t.toml")).unwrap_err().to_string();
    assert!(err.contains("acme_dns_txt_lifetime_secs"), "{err}");
}

#[test]
fn udp_coalescing_is_bounded_and_can_be_turned_off() {
    let text = format!("{MINIMAL}\n[dns]\nudp_coalesce_us = 10001\n");
    let err = Config::from_toml(&text, Path::new("t.toml")).unwrap_err().to_string();
    assert!(err.contains("dns.udp_coalesce_us is at most 10000"), "{err}");
    let text = format!("{MINIMAL}\n[dns]\nudp_coalesce_us = 0\n");
    assert_eq!(Config::from_toml(&text, Path::new("t.toml")).unwrap().dns.udp_coalesce_us, 0);
    let c = Config::from_toml(MINIMAL, Path::new("t.toml")).unwrap();
    let err = c.apply(&Overrides { udp_coalesce_us: Some(20_000), ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("udp_coalesce_us"), "{err}");
}
