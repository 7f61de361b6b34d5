//! The public HTTP surface: routers and the middleware stack, in one place.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::dns::update::rejected::RejectedRing;
use crate::service::Service;
use acme_dns::AcmeDnsSettings;
use config::HttpConfig;

mod accounts;
pub(crate) mod acme_dns;
pub(crate) mod auth;
mod caller;
mod checkip;
pub(crate) mod cluster;
pub(crate) mod config;
mod dyn_routes;
pub(crate) mod dyndns;
pub(crate) mod error;
pub(crate) mod extract;
mod hosts;
pub(crate) mod limits;
mod ops;
pub(crate) mod read;
pub(crate) mod secondaries;
pub(crate) mod tls;
pub(crate) mod tsig;
pub(crate) mod zones;

/// Zone files can be large; everything else is small.
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// What the public router needs besides the service and the dynamic DNS surface: the
/// `[http]` section, the acme-dns zone, and this node's ring of UPDATEs refused before Raft.
#[derive(Clone, Debug, Default)]
pub(crate) struct RouterContext {
    pub http: HttpConfig,
    pub acme_dns: Arc<AcmeDnsSettings>,
    pub rejected_updates: Arc<RejectedRing>,
}

/// The router with the dynamic DNS surface configured by `[dyndns]` and this `[http]`
/// section (tests).
#[cfg(test)]
pub(crate) fn router_with_http(svc: Arc<Service>, dyn_: Arc<crate::dyndns::Dyndns>, http: HttpConfig) -> Router {
    router_full(svc, dyn_, RouterContext { http, ..RouterContext::default() })
}

/// The router with `[dyndns]`, the `[http]` limits and the rest of its context.
pub(crate) fn router_full(svc: Arc<Service>, dyn_: Arc<crate::dyndns::Dyndns>, ctx: RouterContext) -> Router {
    let http = &ctx.http;
    let throttle = limits::AuthThrottle::new(http.auth_fail_limit, Duration::from_secs(http.auth_fail_window_secs));
    let api = Router::new()
        .route("/api/v1/zones", get(zones::list).post(zones::create))
        .route("/api/v1/zones/{zone}", get(zones::get).delete(zones::delete))
        .route("/api/v1/zones/{zone}/records", get(zones::records).post(zones::add_records))
        .route("/api/v1/zones/{zone}/records/{name}/{rtype}", put(zones::replace_set).delete(zones::delete_set))
        .route("/api/v1/zones/{zone}/export", get(zones::export))
        .route("/api/v1/zones/{zone}/secondaries", get(secondaries::get).put(secondaries::put))
        .route(
            "/api/v1/zones/{zone}/import",
            put(zones::import).post(zones::import).layer(DefaultBodyLimit::max(BODY_LIMIT)),
        )
        .route("/api/v1/cluster", get(cluster::status))
        .route("/api/v1/cluster/init", post(cluster::init))
        .route("/api/v1/cluster/nodes", post(cluster::add))
        .route("/api/v1/cluster/nodes/{id}/promote", post(cluster::promote))
        .route("/api/v1/cluster/nodes/{id}", axum::routing::delete(cluster::remove))
        .route("/api/v1/backup", get(ops::backup))
        .route("/api/v1/tsig", get(tsig::list).post(tsig::create))
        .route("/api/v1/tsig/{name}", axum::routing::delete(tsig::delete))
        .route("/api/v1/updates", get(tsig::history))
        .route("/acme-dns/register", post(acme_dns::register))
        .route("/acme-dns/update", post(acme_dns::update))
        .route("/acme-dns/health", get(acme_dns::health))
        .route("/api/v1/cluster/cookie-secret", post(cluster::rotate_cookie_secret));
    Router::new()
        .merge(api)
        .merge(dyn_routes::router(dyn_))
        .route("/livez", get(ops::livez))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(|| async { error::ApiError::not_found("no such endpoint") })
        .with_state(svc)
        .layer(middleware::from_fn(record_metrics))
        .layer(middleware::from_fn(limits::security_headers))
        .layer(axum::Extension(throttle))
        .layer(axum::Extension(ctx.acme_dns.clone()))
        .layer(axum::Extension(ctx.rejected_updates.clone()))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, Duration::from_secs(60)))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            // `/u/{token}` carries a secret in the path: never put it into logs.
            let path = req.uri().path();
            let path = if path.starts_with("/u/") { "/u/{token}" } else { path };
            tracing::info_span!("http", method = %req.method(), path = %path)
        }))
}

/// Per-route request counts and latency. The route is the matched pattern, never the raw
/// path, so label cardinality stays bounded.
async fn record_metrics(req: Request, next: Next) -> Response {
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let start = Instant::now();
    let resp = next.run(req).await;
    crate::metrics::HTTP_REQUEST_DURATION.with_label_values(&[&route]).observe(start.elapsed().as_secs_f64());
    crate::metrics::HTTP_REQUESTS_TOTAL.with_label_values(&[&route, resp.status().as_str()]).inc();
    resp
}
