//! The routes of the dynamic DNS surface: updates, host management, users, domains, and
//! the OpenAPI document describing them (a test checks every route line of the HTTP
//! module appears in it).

use std::sync::Arc;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;

use super::{accounts, checkip, dyndns, hosts};
use crate::dyndns::Dyndns;

pub(crate) const OPENAPI: &str = include_str!("openapi.json");

pub(super) fn router<S: Clone + Send + Sync + 'static>(d: Arc<Dyndns>) -> Router<S> {
    Router::new()
        .route("/nic/update", get(dyndns::nic_update).post(dyndns::nic_update))
        .route("/v3/update", get(dyndns::nic_update).post(dyndns::nic_update))
        .route("/update", get(dyndns::nic_update).post(dyndns::nic_update))
        .route("/nic/delete", get(dyndns::nic_delete).post(dyndns::nic_delete))
        .route("/api/update", get(dyndns::api_update).post(dyndns::api_update))
        .route("/u/{token}", get(dyndns::token_path).post(dyndns::token_path))
        .route("/u", get(dyndns::token_missing).post(dyndns::token_missing))
        .route("/u/", get(dyndns::token_missing).post(dyndns::token_missing))
        .route("/checkip", get(checkip::checkip))
        .route("/myip", get(checkip::myip))
        .route("/nic/register", get(hosts::nic_register).post(hosts::nic_register))
        .route("/nic/unregister", get(hosts::nic_unregister).post(hosts::nic_unregister))
        .route("/nic/hosts", get(hosts::nic_hosts))
        .route("/nic/domains", get(accounts::nic_domains))
        .route("/nic/generate_secret", get(hosts::nic_generate_secret).post(hosts::nic_generate_secret))
        .route("/api/v1/hosts", get(hosts::list).post(hosts::create))
        .route("/api/v1/hosts/{fqdn}", get(hosts::get).patch(hosts::patch).delete(hosts::delete))
        .route("/api/v1/hosts/{fqdn}/secret", post(hosts::new_secret))
        .route("/api/v1/hosts/{fqdn}/history", get(hosts::history))
        .route("/api/v1/users", get(accounts::list_users).post(accounts::create_user))
        .route("/api/v1/users/{name}", get(accounts::get_user).delete(accounts::delete_user))
        .route("/api/v1/users/{name}/tokens", post(accounts::create_token))
        .route("/api/v1/users/{name}/tokens/{id}", axum::routing::delete(accounts::revoke_token))
        .route("/api/v1/domains", get(accounts::list_domains).post(accounts::create_domain))
        .route(
            "/api/v1/domains/{name}",
            get(accounts::get_domain).put(accounts::replace_domain).delete(accounts::delete_domain),
        )
        .route("/api/v1/openapi.json", get(openapi))
        .with_state(d)
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}
