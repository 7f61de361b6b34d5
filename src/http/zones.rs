//! `/api/v1/zones...`: zones and record sets. Reads come from this node's applied state
//! after a linearizable barrier (`?stale=true` skips it, see [`super::read`]); every
//! change is a command through Raft.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::Admin;
use super::error::ApiError;
use super::extract::{JsonBody, Path, Query};
use super::read::{barrier, ReadOptions};
use crate::model::{zonefile, Fqdn, RData, RType, Serial, SoaParams, Zone};
use crate::service::{Committed, Service};
use crate::state::Command;

type Api<T> = Result<T, ApiError>;

fn zone_name(raw: &str) -> Api<Fqdn> {
    Fqdn::parse(raw).map_err(|e| ApiError::bad_request(format!("zone name: {e}")))
}

/// Owner names in the API: `@` is the apex, a name ending in `.` or in the zone's name is
/// absolute, anything else is relative to the zone.
pub(crate) fn owner_name(zone: &Fqdn, raw: &str) -> Api<Fqdn> {
    let bad = |e: crate::model::NameError| ApiError::bad_request(format!("record name: {e}"));
    if raw == "@" || raw.is_empty() {
        return Ok(zone.clone());
    }
    let escaped_dot = raw.ends_with('.') && raw.bytes().rev().skip(1).take_while(|&c| c == b'\\').count() % 2 == 1;
    if raw.ends_with('.') && !escaped_dot {
        return Fqdn::parse(raw).map_err(bad);
    }
    let absolute = Fqdn::parse(raw).map_err(bad)?;
    if absolute.is_in(zone) {
        Ok(absolute)
    } else {
        zone.child(raw).map_err(bad)
    }
}

fn rtype(raw: &str) -> Api<RType> {
    raw.parse::<RType>().map_err(|e| ApiError::bad_request(e.to_string()))
}

fn parse_data(t: RType, data: &[String]) -> Api<Vec<RData>> {
    data.iter()
        .map(|d| {
            RData::parse(t, d).map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", e.to_string()))
        })
        .collect()
}

fn with_zone<T>(svc: &Service, zone: &Fqdn, f: impl FnOnce(&Zone) -> T) -> Api<T> {
    svc.read(|state| state.zones.get(zone).map(f))
        .ok_or_else(|| ApiError::not_found(format!("zone {zone} does not exist")))
}

fn committed_json(zone: &Fqdn, c: &Committed) -> serde_json::Value {
    let serial = c.applied.serials.iter().find(|(z, _)| z == zone).map(|(_, s)| s.0);
    json!({ "zone": zone.as_str(), "index": c.index, "changed": c.applied.changed(), "serial": serial })
}

#[derive(Serialize)]
pub(crate) struct ZoneSummary {
    pub name: String,
    pub serial: u32,
    pub records: usize,
}

pub(crate) async fn list(
    _: Admin,
    State(svc): State<Arc<Service>>,
    Query(read): Query<ReadOptions>,
) -> Api<Json<serde_json::Value>> {
    barrier(&svc, read.stale).await?;
    let zones: Vec<ZoneSummary> = svc.read(|state| {
        state
            .zones
            .values()
            .map(|z| ZoneSummary { name: z.origin.to_string(), serial: z.serial.0, records: z.record_count() })
            .collect()
    });
    Ok(Json(json!({ "zones": zones })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateZone {
    name: String,
    ns: Vec<String>,
    #[serde(default = "default_ns_ttl")]
    ns_ttl: u32,
    soa: Option<SoaBody>,
    serial: Option<u32>,
}

fn default_ns_ttl() -> u32 {
    3600
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SoaBody {
    mname: Option<String>,
    rname: Option<String>,
    refresh: Option<u32>,
    retry: Option<u32>,
    expire: Option<u32>,
    minimum: Option<u32>,
    ttl: Option<u32>,
}

impl SoaBody {
    fn into_params(self, origin: &Fqdn) -> Api<SoaParams> {
        let d = SoaParams::defaults_for(origin);
        let name = |v: Option<String>, dflt: Fqdn| -> Api<Fqdn> {
            v.map(|s| owner_name(origin, &s)).transpose().map(|o| o.unwrap_or(dflt))
        };
        Ok(SoaParams {
            mname: name(self.mname, d.mname)?,
            rname: name(self.rname, d.rname)?,
            refresh: self.refresh.unwrap_or(d.refresh),
            retry: self.retry.unwrap_or(d.retry),
            expire: self.expire.unwrap_or(d.expire),
            minimum: self.minimum.unwrap_or(d.minimum),
            ttl: self.ttl.unwrap_or(d.ttl),
        })
    }
}

pub(crate) async fn create(_: Admin, State(svc): State<Arc<Service>>, body: JsonBody<CreateZone>) -> Api<Response> {
    let JsonBody(body) = body;
    let origin = zone_name(&body.name)?;
    let ns = body.ns.iter().map(|n| owner_name(&origin, n)).collect::<Api<Vec<_>>>()?;
    if ns.is_empty() {
        return Err(ApiError::bad_request("a zone needs at least one name server in `ns`"));
    }
    let soa = body.soa.unwrap_or(SoaBody {
        mname: None,
        rname: None,
        refresh: None,
        retry: None,
        expire: None,
        minimum: None,
        ttl: None,
    });
    let mut soa = soa.into_params(&origin)?;
    if body_soa_mname_default(&soa, &origin) {
        soa.mname = ns[0].clone();
    }
    let cmd =
        Command::CreateZone { origin: origin.clone(), soa, ns, ns_ttl: body.ns_ttl, serial: body.serial.map(Serial) };
    let c = svc.submit(cmd).await?;
    Ok((StatusCode::CREATED, Json(committed_json(&origin, &c))).into_response())
}

/// When the caller gave no MNAME, the first name server is the natural primary.
fn body_soa_mname_default(soa: &SoaParams, origin: &Fqdn) -> bool {
    soa.mname == SoaParams::defaults_for(origin).mname
}

pub(crate) async fn get(
    _: Admin,
    State(svc): State<Arc<Service>>,
    Path(zone): Path<String>,
    Query(read): Query<ReadOptions>,
) -> Api<Json<serde_json::Value>> {
    let zone = zone_name(&zone)?;
    barrier(&svc, read.stale).await?;
    with_zone(&svc, &zone, |z| {
        Json(json!({
            "name": z.origin.as_str(),
            "serial": z.serial.0,
            "records": z.record_count(),
            "soa": {
                "mname": z.soa.mname.as_str(), "rname": z.soa.rname.as_str(),
                "refresh": z.soa.refresh, "retry": z.soa.retry, "expire": z.soa.expire,
                "minimum": z.soa.minimum, "ttl": z.soa.ttl,
            },
        }))
    })
}

pub(crate) async fn delete(
    _: Admin,
    State(svc): State<Arc<Service>>,
    Path(zone): Path<String>,
) -> Api<Json<serde_json::Value>> {
    let zone = zone_name(&zone)?;
    let c = svc.submit(Command::DeleteZone { origin: zone.clone() }).await?;
    Ok(Json(json!({ "zone": zone.as_str(), "index": c.index, "deleted": true })))
}

#[derive(Serialize)]
struct RecordSetOut {
    name: String,
    #[serde(rename = "type")]
    rtype: String,
    ttl: u32,
    data: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordFilter {
    name: Option<String>,
    #[serde(rename = "type")]
    rtype: Option<String>,
    #[serde(default)]
    stale: bool,
}

pub(crate) async fn records(
    _: Admin,
    State(svc): State<Arc<Service>>,
    Path(zone): Path<String>,
    Query(filter): Query<RecordFilter>,
) -> Api<Json<serde_json::Value>> {
    let zone = zone_name(&zone)?;
    let name = filter.name.map(|n| owner_name(&zone, &n)).transpose()?;
    let want = filter.rtype.map(|t| rtype(&t)).transpose()?;
    barrier(&svc, filter.stale).await?;
    with_zone(&svc, &zone, |z| {
        let sets: Vec<RecordSetOut> = z
            .nodes
            .iter()
            .filter(|(n, _)| name.as_ref().is_none_or(|w| w == *n))
            .flat_map(|(n, node)| {
                node.iter().filter(|(t, _)| want.is_none_or(|w| w == **t)).map(move |(t, set)| RecordSetOut {
                    name: n.to_string(),
                    rtype: t.to_string(),
                    ttl: set.ttl,
                    data: set.data.iter().map(|d| d.to_string()).collect(),
                })
            })
            .collect();
        Json(json!({ "zone": z.origin.as_str(), "serial": z.serial.0, "records": sets }))
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordSetIn {
    name: String,
    #[serde(rename = "type")]
    rtype: String,
    #[serde(default = "default_ttl")]
    ttl: u32,
    data: Vec<String>,
}

fn default_ttl() -> u32 {
    3600
}

/// POST: add records to a set (created if missing).
pub(crate) async fn add_records(
    _: Admin,
    State(svc): State<Arc<Service>>,
    Path(zone): Path<String>,
    body: JsonBody<RecordSetIn>,
) -> Api<Json<serde_json::Value>> {
    let JsonBody(body) = body;
    let zone = zone_name(&zone)?;
    let name = owner_name(&zone, &body.name)?;
    let t = rtype(&body.rtype)?;
    if body.data.is_empty() {
        return Err(ApiError::bad_request("`data` must hold at least one record"));
    }
    let data = parse_data(t, &body.data)?;
    let c = svc.submit(Command::AddRecords { zone: zone.clone(), name, rtype: t, ttl: body.ttl, data }).await?;
    Ok(Json(committed_json(&zone, &c)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplaceSet {
    #[serde(default = "default_ttl")]
    ttl: u32,
    data: Vec<String>,
}

/// PUT: the set becomes exactly `data` (empty deletes it).
pub(crate) async fn replace_set(
    _: Admin,
    State(svc): State<Arc<Service>>,
    Path((zone, name, t)): Path<(String, String, String)>,
    body: JsonBody<ReplaceSet>,
) -> Api<Json<serde_json::Value>> {
    let JsonBody(body) = body;
    let zone = zone_name(&zone)?;
    let name = owner_name(&zone, &name)?;
    let t = rtype(&t)?;
    let data = parse_data(t, &body.data)?;
    let c = svc.submit(Command::SetRecordSet { zone: zone.clone(), name, rtype: t, ttl: body.ttl, data }).await?;
    Ok(Json(committed_json(&zone, &c)))
}

pub(crate) async fn delete_set(
    _: Admin,
    State(svc): State<Arc<Service>>,
    Path((zone, name, t)): Path<(String, String, String)>,
) -> Api<Json<serde_json::Value>> {
    let zone = zone_name(&zone)?;
    let name = owner_name(&zone, &name)?;
    let t = rtype(&t)?;
    let c = svc.submit(Command::DeleteRecordSet { zone: zone.clone(), name, rtype: t }).await?;
    Ok(Json(committed_json(&zone, &c)))
}

pub(crate) async fn export(
    _: Admin,
    State(svc): State<Arc<Service>>,
    Path(zone): Path<String>,
    Query(read): Query<ReadOptions>,
) -> Api<Response> {
    let zone = zone_name(&zone)?;
    barrier(&svc, read.stale).await?;
    let text = with_zone(&svc, &zone, zonefile::render)?;
    Ok(([(header::CONTENT_TYPE, "text/dns; charset=utf-8")], text).into_response())
}

/// PUT a zone file: replaces the zone's contents (creating the zone if it is new).
pub(crate) async fn import(
    _: Admin,
    State(svc): State<Arc<Service>>,
    Path(zone): Path<String>,
    body: Result<String, axum::extract::rejection::StringRejection>,
) -> Api<Json<serde_json::Value>> {
    let body = body.map_err(|r| ApiError::new(r.status(), "bad_request", r.body_text()))?;
    let zone = zone_name(&zone)?;
    let parsed = zonefile::parse(&body, &zone)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_zone_file", e.to_string()))?;
    let exists = svc.read(|s| s.zones.contains_key(&zone));
    // A new zone is created with the file's apex NS first (an existing one keeps its own).
    let ns: Vec<Fqdn> = if exists {
        Vec::new()
    } else {
        parsed
            .records
            .iter()
            .filter(|r| r.name == zone)
            .filter_map(|r| match &r.data {
                RData::Ns(n) => Some(n.clone()),
                _ => None,
            })
            .collect()
    };
    if !exists && ns.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_zone_file",
            "the zone file has no NS records at the apex",
        ));
    }
    // The records move into the command: no second copy of a big zone in the handler.
    let (soa, serial) = (parsed.soa, parsed.serial);
    let replace =
        Command::ReplaceZone { zone: zone.clone(), soa: soa.clone(), serial: Some(serial), records: parsed.records };
    let cmd = if exists {
        replace
    } else {
        let create = Command::CreateZone { origin: zone.clone(), soa, ns, ns_ttl: 3600, serial: Some(serial) };
        Command::Batch(vec![create, replace])
    };
    // A million-record import takes seconds to replicate and apply: it gets its own,
    // longer deadline instead of the update path's (cluster.write_timeout_ms).
    let c = svc.submit_within(cmd, crate::service::BULK_WRITE_TIMEOUT).await?;
    Ok(Json(committed_json(&zone, &c)))
}
