//! A one-node cluster in a temp dir with the full HTTP router, driven through `oneshot`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use axum::Router;
use base64::Engine;
use tower::ServiceExt;

use crate::dyndns::config::DyndnsConfig;
use crate::dyndns::Dyndns;
use crate::model::{Fqdn, SoaParams};
use crate::raft::{NodeInfo, RaftSettings};
use crate::secret::Secret;
use crate::service::Service;
use crate::state::Command;

pub(super) const ADMIN: &str = "admin-token-0123456789";
/// `[dyndns] public_url` of the fixture's node.
pub(super) const PUBLIC_URL: &str = "https://dyn.example.org";

pub(super) struct Fixture {
    pub router: Router,
    pub svc: Arc<Service>,
    pub _dyn: Arc<Dyndns>,
    _dir: tempfile::TempDir,
}

pub(super) struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Answer {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Status, exact body, `text/plain` and an exact Content-Length.
    pub(super) fn assert_text(&self, status: StatusCode, body: &str) {
        assert_eq!((self.status, self.body.as_str()), (status, body));
        assert_eq!(self.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(self.header("content-length"), Some(body.len().to_string().as_str()));
        assert!(self.header("transfer-encoding").is_none());
    }
}

fn n(s: &str) -> Fqdn {
    Fqdn::parse(s).unwrap()
}

impl Fixture {
    pub(super) async fn new() -> Fixture {
        Self::with(|_| {}).await
    }

    pub(super) async fn with(f: impl FnOnce(&mut DyndnsConfig)) -> Fixture {
        Self::with_http(f, |_| {}).await
    }

    /// [`Fixture::with`], and the `[http]` section (the throttle's limits) changed by `h`.
    pub(super) async fn with_http(
        f: impl FnOnce(&mut DyndnsConfig),
        h: impl FnOnce(&mut crate::http::config::HttpConfig),
    ) -> Fixture {
        let mut config = DyndnsConfig {
            refusal_record_interval_secs: 3600,
            public_url: Some(PUBLIC_URL.into()),
            ..DyndnsConfig::default()
        };
        f(&mut config);
        let mut http = crate::http::config::HttpConfig::default();
        h(&mut http);
        let dir = tempfile::tempdir().unwrap();
        let settings = RaftSettings {
            node_id: 1,
            data_dir: dir.path().join("raft"),
            cluster_secret: b"component-test-cluster-secret".to_vec(),
            cluster: crate::raft::config::ClusterConfig {
                heartbeat_ms: 100,
                election_timeout_min_ms: 300,
                election_timeout_max_ms: 600,
                rpc_timeout_ms: 2000,
                snapshot_every: 10_000,
                stale_after_ms: 2000,
                ..Default::default()
            },
            partition: crate::raft::PartitionSwitch::default(),
        };
        let raft = crate::raft::open(settings, Arc::new(crate::dns::SnapshotPublisher::new())).await.unwrap();
        raft.initialize(BTreeMap::from([(1, NodeInfo::default())])).await.unwrap();
        raft.raft.wait(Some(Duration::from_secs(20))).metrics(|m| m.current_leader.is_some(), "leader").await.unwrap();
        let svc = Service::new(
            raft,
            Secret::new(ADMIN, "test").unwrap(),
            Duration::from_secs(5),
            NodeInfo::default(),
            Vec::new(),
        );
        let o = n("dyn.test");
        let zone = Command::CreateZone {
            soa: SoaParams::defaults_for(&o),
            ns: vec![n("ns1.dyn.test")],
            origin: o,
            ns_ttl: 3600,
            serial: None,
        };
        svc.submit(zone).await.unwrap();
        let dyn_ = Dyndns::new(svc.clone(), config);
        let router = crate::http::router_with_http(svc.clone(), dyn_.clone(), http)
            .layer(MockConnectInfo(SocketAddr::from(([203, 0, 113, 77], 40000))));
        Fixture { router, svc, _dyn: dyn_, _dir: dir }
    }

    pub(super) async fn send(&self, req: Request<Body>) -> Answer {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        Answer { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    pub(super) async fn get_with(&self, uri: &str, basic: Option<(&str, &str)>, headers: &[(&str, &str)]) -> Answer {
        let mut b = Request::get(uri).header("user-agent", "component-test/1.0");
        if let Some((u, p)) = basic {
            let enc = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            b = b.header("authorization", format!("Basic {enc}"));
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        self.send(b.body(Body::empty()).unwrap()).await
    }

    pub(super) async fn get_bearer(&self, uri: &str, token: &str) -> Answer {
        self.get_with(uri, None, &[("authorization", &format!("Bearer {token}"))]).await
    }

    pub(super) async fn get(&self, uri: &str, basic: Option<(&str, &str)>) -> Answer {
        self.get_with(uri, basic, &[]).await
    }

    pub(super) async fn post_form(&self, uri: &str, form: &str, basic: Option<(&str, &str)>) -> Answer {
        let mut b = Request::post(uri).header("content-type", "application/x-www-form-urlencoded");
        if let Some((u, p)) = basic {
            let enc = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            b = b.header("authorization", format!("Basic {enc}"));
        }
        self.send(b.body(Body::from(form.to_string())).unwrap()).await
    }

    pub(super) async fn api_as(
        &self,
        token: &str,
        method: &str,
        uri: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let b = Request::builder().method(method).uri(uri).header("authorization", format!("Bearer {token}"));
        let req = match body {
            Some(j) => b.header("content-type", "application/json").body(Body::from(j.to_string())).unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        let a = self.send(req).await;
        (a.status.as_u16(), serde_json::from_str(&a.body).unwrap_or(serde_json::Value::String(a.body)))
    }

    pub(super) async fn api(&self, method: &str, uri: &str, body: Option<serde_json::Value>) -> serde_json::Value {
        let (s, b) = self.api_as(ADMIN, method, uri, body).await;
        assert!((200..300).contains(&s), "{method} {uri}: {s} {b}");
        b
    }

    /// Registers a host as the admin; returns its secret.
    pub(super) async fn host(&self, fqdn: &str) -> String {
        let b = self.api("GET", &format!("/nic/register?fqdn={fqdn}"), None).await;
        b["host"]["update_secret"].as_str().unwrap().to_string()
    }

    /// Creates a user with one token; returns the token.
    pub(super) async fn user(&self, name: &str) -> String {
        self.api("POST", "/api/v1/users", Some(serde_json::json!({"name": name}))).await;
        let b = self.api("POST", &format!("/api/v1/users/{name}/tokens"), None).await;
        b["token"].as_str().unwrap().to_string()
    }

    pub(super) fn serial(&self) -> u32 {
        self.svc.read(|s| s.zones[&n("dyn.test")].serial.0)
    }

    pub(super) fn addrs(&self, fqdn: &str) -> (Option<Ipv4Addr>, Option<Ipv6Addr>) {
        self.svc.read(|s| s.registry.hosts.get(&n(fqdn)).map(|h| (h.ipv4, h.ipv6)).unwrap_or_default())
    }

    pub(super) fn faults(&self, fqdn: &str) -> u64 {
        self.svc.read(|s| s.registry.hosts[&n(fqdn)].client_faults)
    }

    /// Record sets by owner name (DNS data only).
    pub(super) fn zone(&self) -> BTreeMap<String, crate::model::Node> {
        self.svc.read(|s| s.zones[&n("dyn.test")].nodes.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    pub(super) fn zone_for(&self, name: &str) -> Option<crate::model::Node> {
        self.zone().get(name).cloned()
    }
}
