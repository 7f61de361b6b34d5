//! Random updates to random nodes while the leader is killed (`kill -9`) and restarted at
//! random moments. Afterwards every acknowledged update is answered by every node and all
//! serials match. A short run is in the default suite; the long one is `--ignored`.

use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::support::{set_a, Cluster};

async fn random_run(ops: usize, kill_every: usize) {
    let seed: u64 = std::env::var("QUORUMDNS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("randomized run: seed {seed} (QUORUMDNS_SEED={seed} repeats it)");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut c = Cluster::start(3, 25).await;
    let mut acked: Vec<(String, String)> = Vec::new();
    let mut down: Option<usize> = None;
    for op in 0..ops {
        if op > 0 && op % kill_every == 0 {
            match down.take() {
                Some(i) => c.restart(i),
                None => {
                    let leader = c.leader().await;
                    c.kill9(leader);
                    down = Some(leader);
                }
            }
        }
        let live = c.live();
        let via = live[rng.gen_range(0..live.len())];
        let name = format!("r{op}");
        let addr = format!("10.9.{}.{}", op / 256, op % 256);
        set_a(c.node(via), &name, &addr).await;
        acked.push((name, addr));
    }
    if let Some(i) = down {
        c.restart(i);
    }
    for (name, addr) in &acked {
        c.all_answer(name, addr).await;
    }
    c.converged_serial().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_updates_to_random_nodes_with_leader_kills_lose_nothing() {
    random_run(30, 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long randomized run (minutes); run with --ignored"]
async fn long_random_updates_to_random_nodes_with_leader_kills_lose_nothing() {
    random_run(400, 25).await;
}
