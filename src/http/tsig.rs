//! `/api/v1/tsig`: TSIG keys for RFC 2136 UPDATE with their update policy, replicated
//! through Raft (`Command::SetTsigKey`), and the UPDATE history. The secret is returned
//! once, when the key is created; listings never contain it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use base64::Engine;
use serde::Deserialize;
use serde_json::json;

use super::auth::Admin;
use super::error::ApiError;
use super::extract::{JsonBody, Path, Query};
use crate::dns::update::rejected::RejectedRing;
use crate::model::tsig::Algorithm;
use crate::model::{Fqdn, RType};
use crate::service::Service;
use crate::state::rfc2136::{rcode, NameMatch, PolicyRule, TsigKeyEntry};
use crate::state::Command;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewKey {
    name: String,
    #[serde(default = "default_algorithm")]
    algorithm: String,
    /// Base64; generated (32 random octets) when absent.
    secret: Option<String>,
    #[serde(default)]
    policy: Vec<RuleBody>,
    #[serde(default)]
    comment: String,
}

/// A policy rule in JSON: `{"match": "exact|subdomain|pattern", "name": "...", "types": ["TXT"]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleBody {
    #[serde(rename = "match")]
    kind: NameMatch,
    name: String,
    #[serde(default)]
    types: Vec<String>,
}

fn rule(r: RuleBody) -> Result<PolicyRule, ApiError> {
    let ok = match r.kind {
        NameMatch::Pattern => !r.name.trim_end_matches('.').is_empty(),
        _ => Fqdn::parse(&r.name).is_ok(),
    };
    if !ok {
        return Err(ApiError::bad_request(format!("policy name {:?} is not a name", r.name)));
    }
    let types = r
        .types
        .iter()
        .map(|t| t.parse::<RType>().map_err(|e| ApiError::bad_request(e.to_string())))
        .collect::<Result<_, _>>()?;
    Ok(PolicyRule { kind: r.kind, name: r.name.to_ascii_lowercase(), types })
}

fn policy_json(p: &[PolicyRule]) -> serde_json::Value {
    p.iter()
        .map(|r| json!({ "match": r.kind, "name": r.name, "types": r.types.iter().map(|t| t.as_str()).collect::<Vec<_>>() }))
        .collect()
}

fn default_algorithm() -> String {
    "hmac-sha256".into()
}

fn key_name(raw: &str) -> Result<Fqdn, ApiError> {
    Fqdn::parse(raw).map_err(|e| ApiError::bad_request(format!("key name: {e}")))
}

fn public_json(k: &TsigKeyEntry) -> serde_json::Value {
    json!({ "name": k.name.as_str(), "algorithm": k.algorithm, "policy": policy_json(&k.policy), "comment": k.comment, "created": k.created })
}

pub(crate) async fn list(_: Admin, State(svc): State<Arc<Service>>) -> Json<serde_json::Value> {
    let keys: Vec<_> = svc.read(|s| s.rfc2136.keys.values().map(public_json).collect());
    Json(json!({ "keys": keys }))
}

/// Creates or replaces a key. Answers with the secret: the only time it is shown.
pub(crate) async fn create(
    _: Admin,
    State(svc): State<Arc<Service>>,
    body: JsonBody<NewKey>,
) -> Result<Response, ApiError> {
    let JsonBody(body) = body;
    let name = key_name(&body.name)?;
    let algorithm = Algorithm::parse(&body.algorithm).ok_or_else(|| {
        ApiError::bad_request("algorithm: hmac-md5, hmac-sha1, hmac-sha256, hmac-sha384 or hmac-sha512")
    })?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let secret = match &body.secret {
        Some(s) => b64.decode(s.trim()).map_err(|_| ApiError::bad_request("secret is not base64"))?,
        None => rand::random::<[u8; 32]>().to_vec(),
    };
    if secret.len() < 16 {
        return Err(ApiError::bad_request("secret shorter than 16 octets"));
    }
    let policy = body.policy.into_iter().map(rule).collect::<Result<Vec<_>, _>>()?;
    let key = TsigKeyEntry {
        name: name.clone(),
        algorithm: algorithm.as_str().into(),
        secret: secret.clone(),
        policy,
        comment: body.comment,
        created: crate::clock::unix_ms(),
    };
    let mut out = public_json(&key);
    let c = svc.submit(Command::SetTsigKey { key }).await?;
    out["secret"] = json!(b64.encode(&secret));
    out["index"] = json!(c.index);
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

pub(crate) async fn delete(
    _: Admin,
    State(svc): State<Arc<Service>>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let name = key_name(&name)?;
    let c = svc.submit(Command::DeleteTsigKey { name: name.clone() }).await.map_err(|e| match e {
        crate::service::SubmitError::Refused(a) => ApiError::not_found(a.to_string()),
        other => other.into(),
    })?;
    Ok(Json(json!({ "name": name.as_str(), "deleted": true, "index": c.index })))
}

#[derive(Deserialize)]
pub(crate) struct HistoryFilter {
    zone: Option<String>,
    key: Option<String>,
}

/// The UPDATE history (oldest first): key, source, asked changes, rcode. The replicated
/// entries (every UPDATE that reached the log, the same on every node) merged by time with
/// this node's ring of UPDATEs it refused before the log (`"replicated": false`: bad or
/// missing TSIG, policy, malformed, unknown zone), which only the node that answered them
/// lists.
pub(crate) async fn history(
    _: Admin,
    State(svc): State<Arc<Service>>,
    Extension(rejected): Extension<Arc<RejectedRing>>,
    Query(f): Query<HistoryFilter>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let zone = f.zone.as_deref().map(key_name).transpose()?;
    let key = f.key.as_deref().map(key_name).transpose()?;
    let wanted = |z: Option<&Fqdn>, k: Option<&Fqdn>| {
        zone.as_ref().is_none_or(|w| z == Some(w)) && (key.is_none() || k == key.as_ref())
    };
    let mut entries: Vec<(u64, serde_json::Value)> = svc.read(|s| {
        s.rfc2136
            .history
            .iter()
            .filter(|e| wanted(Some(&e.zone), e.key.as_ref()))
            .map(|e| {
                let v = json!({
                    "index": e.index, "at": e.at, "zone": e.zone.as_str(),
                    "key": e.key.as_ref().map(|k| k.as_str()), "source": e.source,
                    "rcode": rcode::name(e.rcode), "changes": e.changes, "changed": e.changed,
                    "replicated": true,
                });
                (e.at, v)
            })
            .collect()
    });
    let node = svc.node_id();
    for e in rejected.entries().into_iter().filter(|e| wanted(e.zone.as_ref(), e.key.as_ref())) {
        let v = json!({
            "index": null, "at": e.at, "zone": e.zone.as_ref().map(|z| z.as_str()),
            "key": e.key.as_ref().map(|k| k.as_str()), "source": e.source,
            "rcode": rcode::name(e.rcode), "changes": e.changes, "changed": false,
            "replicated": false, "rejected": e.reason.as_str(), "tsig_error": e.tsig_error, "node": node,
        });
        entries.push((e.at, v));
    }
    // Stable: entries with the same time keep the log order, then the ring's.
    entries.sort_by_key(|(at, _)| *at);
    Ok(Json(json!({ "updates": entries.into_iter().map(|(_, v)| v).collect::<Vec<_>>() })))
}
