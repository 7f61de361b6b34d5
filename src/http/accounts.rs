//! Users, their bearer tokens, and the domain registry: `/api/v1/users...`,
//! `/api/v1/domains...` and EGI's `/nic/domains`. Tokens are `<id>.<secret>`, shown once.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::caller::{registry_error, rfc3339, submit_error, Caller, EgiError};
use super::error::ApiError;
use super::extract::{JsonBody, Path};
use crate::dyndns::credential::{generate_id, generate_secret, hash_secret_blocking};
use crate::dyndns::update::Principal;
use crate::dyndns::Dyndns;
use crate::model::Fqdn;
use crate::state::{ApplyError, Command, Domain, Token, User, ADMIN_OWNER};

type Api<T> = Result<T, ApiError>;

fn user_json(u: &User) -> Value {
    json!({
        "name": u.name,
        "comment": u.comment,
        "domains": u.domains.iter().map(Fqdn::as_str).collect::<Vec<_>>(),
        "created": rfc3339(u.created),
        "tokens": u.tokens.values().map(|t| json!({"id": t.id, "comment": t.comment, "created": rfc3339(t.created)})).collect::<Vec<_>>(),
    })
}

fn domain_json(d: &Domain) -> Value {
    json!({
        "name": d.name.as_str(), "public": d.public, "available": true, "comment": d.comment,
        "owner": d.owner, "min_ttl": d.min_ttl, "max_ttl": d.max_ttl,
    })
}

fn egi_domain(d: &Domain) -> Value {
    json!({"name": d.name.as_str(), "public": d.public, "available": true, "comment": d.comment, "owner": d.owner})
}

fn find_user(d: &Dyndns, caller: &Caller, name: &str) -> Api<User> {
    let visible = caller.is_admin() || caller.0 == Principal::User(name.to_string());
    d.svc
        .read(|s| s.registry.users.get(name).filter(|_| visible).cloned())
        .ok_or_else(|| registry_error(ApplyError::NoSuchUser(name.into())))
}

pub(super) async fn list_users(caller: Caller, State(d): State<Arc<Dyndns>>) -> Api<Json<Value>> {
    caller.require_admin()?;
    let users: Vec<Value> = d.svc.read(|s| s.registry.users.values().map(user_json).collect());
    Ok(Json(json!({"users": users})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateUser {
    name: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    domains: Vec<Fqdn>,
}

pub(super) async fn create_user(
    caller: Caller,
    State(d): State<Arc<Dyndns>>,
    body: JsonBody<CreateUser>,
) -> Api<Response> {
    caller.require_admin()?;
    let JsonBody(b) = body;
    let cmd = Command::CreateUser {
        name: b.name.clone(),
        comment: b.comment,
        domains: b.domains,
        at: crate::clock::unix_ms(),
    };
    d.svc.submit(cmd).await.map_err(submit_error)?;
    let u = find_user(&d, &caller, &b.name)?;
    Ok((StatusCode::CREATED, Json(user_json(&u))).into_response())
}

pub(super) async fn get_user(
    caller: Caller,
    State(d): State<Arc<Dyndns>>,
    Path(name): Path<String>,
) -> Api<Json<Value>> {
    Ok(Json(user_json(&find_user(&d, &caller, &name)?)))
}

pub(super) async fn delete_user(
    caller: Caller,
    State(d): State<Arc<Dyndns>>,
    Path(name): Path<String>,
) -> Api<Json<Value>> {
    caller.require_admin()?;
    d.svc.submit(Command::DeleteUser { name: name.clone() }).await.map_err(submit_error)?;
    Ok(Json(json!({"name": name, "deleted": true})))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateToken {
    #[serde(default)]
    comment: String,
}

/// Creates a token; the only time its secret is shown.
pub(super) async fn create_token(
    caller: Caller,
    State(d): State<Arc<Dyndns>>,
    Path(name): Path<String>,
    body: Option<Json<CreateToken>>,
) -> Api<Response> {
    caller.require_admin()?;
    find_user(&d, &caller, &name)?;
    let comment = body.map(|Json(b)| b.comment).unwrap_or_default();
    let (id, secret) = (generate_id(), generate_secret());
    let hash = hash_secret_blocking(secret.clone())
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    let token = Token { id: id.clone(), hash, comment, created: crate::clock::unix_ms() };
    d.svc.submit(Command::AddToken { user: name.clone(), token }).await.map_err(submit_error)?;
    Ok((StatusCode::CREATED, Json(json!({"user": name, "id": id, "token": format!("{id}.{secret}")}))).into_response())
}

pub(super) async fn revoke_token(
    caller: Caller,
    State(d): State<Arc<Dyndns>>,
    Path((name, id)): Path<(String, String)>,
) -> Api<Json<Value>> {
    caller.require_admin()?;
    d.svc.submit(Command::RevokeToken { user: name.clone(), id: id.clone() }).await.map_err(submit_error)?;
    Ok(Json(json!({"user": name, "id": id, "revoked": true})))
}

/// Domains the caller may use: registered ones plus zones without an entry (implicit,
/// public, owned by the admin).
fn visible_domains(d: &Dyndns, caller: &Caller) -> Vec<Domain> {
    d.svc.read(|s| {
        let user = s.registry.users.get(&caller.owner());
        let mut all: Vec<Domain> = s.registry.domains.values().cloned().collect();
        all.extend(s.zones.keys().filter(|z| !s.registry.domains.contains_key(*z)).map(Domain::implicit));
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all.into_iter().filter(|dom| caller.may_use(dom, user)).collect()
    })
}

pub(super) async fn nic_domains(caller: Caller, State(d): State<Arc<Dyndns>>) -> Result<Json<Value>, EgiError> {
    let all = visible_domains(&d, &caller);
    let (public, private): (Vec<&Domain>, Vec<&Domain>) = all.iter().partition(|dom| dom.public);
    Ok(Json(json!({
        "status": "ok",
        "private": private.into_iter().map(egi_domain).collect::<Vec<_>>(),
        "public": public.into_iter().map(egi_domain).collect::<Vec<_>>(),
    })))
}

pub(super) async fn list_domains(caller: Caller, State(d): State<Arc<Dyndns>>) -> Json<Value> {
    Json(json!({"domains": visible_domains(&d, &caller).iter().map(domain_json).collect::<Vec<_>>()}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DomainBody {
    name: Option<Fqdn>,
    #[serde(default)]
    public: bool,
    owner: Option<String>,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    min_ttl: u32,
    max_ttl: Option<u32>,
}

async fn put_domain(d: &Dyndns, caller: &Caller, name: Fqdn, b: DomainBody) -> Api<Json<Value>> {
    caller.require_admin()?;
    let domain = Domain {
        name,
        public: b.public,
        owner: b.owner.unwrap_or_else(|| ADMIN_OWNER.into()),
        comment: b.comment,
        min_ttl: b.min_ttl,
        max_ttl: b.max_ttl.unwrap_or(86_400),
    };
    d.svc.submit(Command::SetDomain { domain: domain.clone() }).await.map_err(submit_error)?;
    Ok(Json(domain_json(&domain)))
}

pub(super) async fn create_domain(
    caller: Caller,
    State(d): State<Arc<Dyndns>>,
    body: JsonBody<DomainBody>,
) -> Api<Response> {
    let JsonBody(mut b) = body;
    let name = b.name.take().ok_or_else(|| ApiError::bad_request("`name` is required"))?;
    let out = put_domain(&d, &caller, name, b).await?;
    Ok((StatusCode::CREATED, out).into_response())
}

pub(super) async fn replace_domain(
    caller: Caller,
    State(d): State<Arc<Dyndns>>,
    Path(name): Path<String>,
    body: JsonBody<DomainBody>,
) -> Api<Json<Value>> {
    let JsonBody(b) = body;
    let name = Fqdn::parse(&name).map_err(|e| ApiError::bad_request(format!("domain: {e}")))?;
    put_domain(&d, &caller, name, b).await
}

pub(super) async fn get_domain(
    caller: Caller,
    State(d): State<Arc<Dyndns>>,
    Path(name): Path<String>,
) -> Api<Json<Value>> {
    let name = Fqdn::parse(&name).map_err(|e| ApiError::bad_request(format!("domain: {e}")))?;
    visible_domains(&d, &caller)
        .iter()
        .find(|dom| dom.name == name)
        .map(|dom| Json(domain_json(dom)))
        .ok_or_else(|| registry_error(ApplyError::NoSuchDomain(name)))
}

pub(super) async fn delete_domain(
    caller: Caller,
    State(d): State<Arc<Dyndns>>,
    Path(name): Path<String>,
) -> Api<Json<Value>> {
    caller.require_admin()?;
    let name = Fqdn::parse(&name).map_err(|e| ApiError::bad_request(format!("domain: {e}")))?;
    d.svc.submit(Command::DeleteDomain { name: name.clone() }).await.map_err(submit_error)?;
    Ok(Json(json!({"name": name.as_str(), "deleted": true})))
}
