//! The deploy/ compose cluster from the locally built image: build the image (FROM
//! scratch, nothing pulled), bring up 3 containers, join nodes 2 and 3, update a host
//! through one container, dig all three, stop one and check the other two keep working,
//! tear everything down. Needs Docker and docker-compose; ignored by default (it builds an
//! image), tests/run.sh runs it when `docker` is available.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{binary, dig, eventually, eventually_every, free_port};

const IMAGE: &str = "quorumdns:e2e";

struct Compose {
    project: String,
    file: PathBuf,
    env: Vec<(String, String)>,
}

impl Compose {
    fn cmd(&self) -> Command {
        let mut c = Command::new("docker-compose");
        c.args(["-p", &self.project, "-f"]).arg(&self.file).envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }
    fn run(&self, args: &[&str]) {
        let out = self.cmd().args(args).output().expect("docker-compose runs");
        assert!(out.status.success(), "docker-compose {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Compose {
    fn drop(&mut self) {
        let _ = self.cmd().args(["down", "-v", "--timeout", "10"]).output();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().map_while(Result::ok) {
        let p = e.path();
        if p.is_file() {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

fn sh(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

async fn a_of(dns: SocketAddr, name: &str, want: &str) {
    eventually(format!("{name} = {want} at {dns}"), Duration::from_secs(60), async || {
        (dig(dns, &[name, "A"]).answer_data("A") == vec![want.to_string()]).then_some(())
    })
    .await;
}

#[tokio::test]
#[ignore = "builds a container image and runs docker-compose (tests/run.sh runs it when docker is available)"]
async fn compose_cluster_from_the_local_image_survives_losing_one_container() {
    let started = Instant::now();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // The binary under test (deploy/build-image.sh strips its debug info).
    let bin = binary();
    let built = sh(
        Command::new(root.join("deploy/build-image.sh")).arg(IMAGE).env("QUORUMDNS_BIN", &bin),
        "deploy/build-image.sh",
    );
    eprintln!("{built}");

    // A private copy of deploy/'s compose setup with fresh secrets.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(root.join("deploy/compose.yaml"), dir.path().join("compose.yaml")).unwrap();
    copy_dir(&root.join("deploy/compose"), &dir.path().join("compose"));
    sh(&mut Command::new(dir.path().join("compose/secrets.sh")), "secrets.sh");
    let token = std::fs::read_to_string(dir.path().join("compose/secrets/admin_token")).unwrap();

    let http: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let dns: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut env = vec![("QDNS_IMAGE".to_string(), IMAGE.to_string())];
    for i in 0..3 {
        env.push((format!("QDNS_HTTP{}", i + 1), http[i].to_string()));
        env.push((format!("QDNS_DNS{}", i + 1), dns[i].to_string()));
    }
    let project = format!("qdnse2e{}", std::process::id());
    let c = Compose { project: project.clone(), file: dir.path().join("compose.yaml"), env };
    c.run(&["up", "-d"]);
    let joined =
        sh(Command::new(dir.path().join("compose/join.sh")).args(["-p", &project]).envs(c.env.clone()), "join.sh");
    eprintln!("{joined}");

    let dns_addr = |i: usize| SocketAddr::from(([127, 0, 0, 1], dns[i]));
    let api = |i: usize, path: &str| format!("http://127.0.0.1:{}{path}", http[i]);
    let client = reqwest::Client::new();
    let set = |i: usize, addr: &'static str| {
        let req = client
            .put(api(i, "/api/v1/zones/dyn.example.test/records/home/A"))
            .bearer_auth(token.trim())
            .json(&json!({"ttl": 60, "data": [addr]}));
        async move {
            let what = format!("an update through node {}", i + 1);
            eventually_every(what, Duration::from_secs(60), Duration::from_millis(200), async || {
                let r = req.try_clone().expect("cloneable").send().await;
                matches!(r, Ok(r) if r.status() == 200).then_some(())
            })
            .await;
        }
    };
    // Through node 2 (a follower: forwarded to the leader), seen by all three.
    set(1, "192.0.2.31").await;
    for i in 0..3 {
        a_of(dns_addr(i), "home.dyn.example.test", "192.0.2.31").await;
    }
    // One container gone: the other two still form a majority.
    c.run(&["stop", "-t", "10", "node3"]);
    set(0, "192.0.2.32").await;
    for i in 0..2 {
        a_of(dns_addr(i), "home.dyn.example.test", "192.0.2.32").await;
    }
    for i in 0..2 {
        let r = client.get(api(i, "/readyz")).send().await.expect("readyz");
        assert_eq!(r.status(), 200, "node {} not ready with one peer down", i + 1);
    }
    drop(c);
    eprintln!("compose test took {:?}", started.elapsed());
}
