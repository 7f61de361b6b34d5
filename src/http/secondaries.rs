//! `/api/v1/zones/{zone}/secondaries`: who may transfer a zone and whom to NOTIFY.
//! Replicated through Raft (`Command::SetZoneTransfer`), so every node serves the same
//! ACL; TSIG secrets are not here, only key names: a key named in `transfer_tsig` may be a
//! node config `[[tsig_key]]` or a key created through `/api/v1/tsig` (replicated, so it
//! works on every node), like BIND's `allow-transfer { key X; }`.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde_json::json;

use super::auth::Admin;
use super::error::ApiError;
use super::extract::{JsonBody, Path};
use crate::model::{Fqdn, ZoneTransfer};
use crate::service::Service;
use crate::state::Command;

fn zone_name(raw: &str) -> Result<Fqdn, ApiError> {
    Fqdn::parse(raw).map_err(|e| ApiError::bad_request(format!("zone name: {e}")))
}

fn to_json(zone: &Fqdn, t: &ZoneTransfer) -> serde_json::Value {
    json!({
        "zone": zone.as_str(),
        "allow_transfer": t.allow_transfer.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
        "transfer_tsig": t.transfer_tsig.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        "notify": t.notify.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "journal_versions": t.journal_versions,
    })
}

pub(crate) async fn get(
    _: Admin,
    State(svc): State<Arc<Service>>,
    Path(zone): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let zone = zone_name(&zone)?;
    svc.read(|s| {
        s.zones.contains_key(&zone).then(|| to_json(&zone, &s.transfer.get(&zone).cloned().unwrap_or_default()))
    })
    .map(Json)
    .ok_or_else(|| ApiError::not_found(format!("zone {zone} does not exist")))
}

/// Body: `{"allow_transfer": ["192.0.2.0/24"], "transfer_tsig": ["xfr-key"], "notify": ["192.0.2.53:53"], "journal_versions": 1000}`.
pub(crate) async fn put(
    _: Admin,
    State(svc): State<Arc<Service>>,
    Path(zone): Path<String>,
    body: JsonBody<ZoneTransfer>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let zone = zone_name(&zone)?;
    let JsonBody(transfer) = body;
    let c = svc.submit(Command::SetZoneTransfer { zone: zone.clone(), transfer: transfer.clone() }).await?;
    let mut out = to_json(&zone, &transfer);
    out["index"] = json!(c.index);
    Ok(Json(out))
}
