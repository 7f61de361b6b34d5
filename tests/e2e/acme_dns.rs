//! The acme-dns compatible API: register an account, set the challenge TXT the way
//! acme-dns clients do, and see DNS serve the two most recent values.

use reqwest::Method;
use serde_json::json;

use crate::harness::Node;

async fn update(node: &Node, user: &str, key: &str, subdomain: &str, txt: &str) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(node.url("/acme-dns/update"))
        .header("X-Api-User", user)
        .header("X-Api-Key", key)
        .json(&json!({"subdomain": subdomain, "txt": txt}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn an_acme_dns_client_sets_the_challenge_txt_and_dns_serves_the_latest_two() {
    let dir = tempfile::tempdir().unwrap();
    // dev.toml ends with the dyn.example.test [[zone]] table: this key extends it.
    let node = Node::start_with_config(dir.path(), "acme_dns = true");
    let (s, acct) = node.api(Method::POST, "/acme-dns/register", None).await;
    assert_eq!(s, 201, "{acct}");
    let (user, key, sub, full) = (
        acct["username"].as_str().unwrap().to_string(),
        acct["password"].as_str().unwrap().to_string(),
        acct["subdomain"].as_str().unwrap().to_string(),
        acct["fulldomain"].as_str().unwrap().trim_end_matches('.').to_string(),
    );
    assert!(full.ends_with(".dyn.example.test"), "{full}");

    let tokens: Vec<String> = (0..3).map(|i| format!("{i}{}", "x".repeat(42))).collect();
    let serial0 = node.serial();
    for (i, t) in tokens.iter().enumerate() {
        let (s, b) = update(&node, &user, &key, &sub, t).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["txt"], t.as_str());
        let served = node.dig(&[&full, "TXT"]).answer_data("TXT");
        let mut want: Vec<String> = tokens[i.saturating_sub(1)..=i].iter().map(|t| format!("\"{t}\"")).collect();
        want.sort();
        assert_eq!(served, want, "after update {i}: the two most recent values");
    }
    assert!(node.serial() > serial0);

    // A wrong key or someone else's subdomain changes nothing.
    let serial = node.serial();
    let (s, _) = update(&node, &user, "wrong-key-0000000000000000000000", &sub, &tokens[0]).await;
    assert_eq!(s, 401);
    let (s, _) = update(&node, &user, &key, "othersubdomain", &tokens[0]).await;
    assert_eq!(s, 401);
    assert_eq!(node.serial(), serial);
    // Registering needs the admin token.
    let resp = reqwest::Client::new().post(node.url("/acme-dns/register")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}
