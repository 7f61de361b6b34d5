//! Load generator for `/nic/update` (a benchmark, not a test): registers `--hosts` hosts
//! with the admin token, then runs `--clients` keep-alive clients, each updating its own
//! host with alternating addresses (every request is a `good`, committed through Raft)
//! until `--requests` in total or `--seconds` passed. Prints updates/s and latencies.
//!
//! Before the clock starts every client sends one untimed update (`--warmup 0` turns it
//! off): a host's first update pays one argon2id verification (tens of milliseconds of CPU
//! and a 19 MiB buffer) before its credential is cached, which with 128 fresh hosts filled
//! seconds of a 10 s window on 2 cores. The steady state of a dyndns service is hosts whose
//! credentials are cached; `--warmup 0` measures the cold start instead.
//!
//! cargo run --release --example dyndns_load -- --url http://127.0.0.1:8053 --token T

use std::time::{Duration, Instant};

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).unwrap_or_else(|| default.to_string())
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = arg("--url", "http://127.0.0.1:8053");
    let token = arg("--token", "");
    let domain = arg("--domain", "dyn.example.test");
    let clients: usize = arg("--clients", "16").parse()?;
    let total: usize = arg("--requests", "20000").parse()?;
    let seconds: u64 = arg("--seconds", "20").parse()?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients).build()?;

    let mut hosts = Vec::new();
    let run_id = format!("{:x}", std::process::id());
    for i in 0..clients {
        let fqdn = format!("bench{run_id}-{i}.{domain}");
        let r: serde_json::Value =
            http.get(format!("{url}/nic/register?fqdn={fqdn}")).bearer_auth(&token).send().await?.json().await?;
        let secret = r["host"]["update_secret"].as_str().ok_or_else(|| format!("register failed: {r}"))?.to_string();
        hosts.push((fqdn, secret));
    }

    let warmup = arg("--warmup", "1") != "0";
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(clients + 1));
    let per_client = total.div_ceil(clients);
    let mut tasks = Vec::new();
    for (i, (fqdn, secret)) in hosts.into_iter().enumerate() {
        let http = http.clone();
        let url = url.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_client);
            let mut errors = 0usize;
            let update = |ip: String| {
                http.get(format!("{url}/nic/update?hostname={fqdn}&myip={ip}")).basic_auth(&fqdn, Some(&secret)).send()
            };
            if warmup {
                let warm = match update(format!("10.{}.255.1", i % 250)).await {
                    Ok(r) => r.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                if !warm.starts_with("good") {
                    errors += 1;
                }
            }
            barrier.wait().await;
            let deadline = Instant::now() + Duration::from_secs(seconds);
            for n in 0..per_client {
                if Instant::now() >= deadline {
                    break;
                }
                let ip = format!("10.{}.{}.{}", i % 250, (n / 250) % 250, n % 250 + 1);
                let t = Instant::now();
                let resp = update(ip).await;
                match resp {
                    Ok(r) => match r.text().await {
                        Ok(body) if body.starts_with("good") => lat.push(t.elapsed()),
                        _ => errors += 1,
                    },
                    Err(_) => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    barrier.wait().await;
    let start = Instant::now();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort();
    println!(
        "clients={clients} ok={} errors={errors} seconds={elapsed:.1} updates_per_s={:.0} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        all.len(),
        all.len() as f64 / elapsed,
        pct(&all, 0.50),
        pct(&all, 0.99),
        pct(&all, 1.0)
    );
    Ok(())
}
