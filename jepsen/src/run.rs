//! One run: cluster up, workload and nemesis for the given time, heal, wait for
//! convergence, final reads, logs, tear down, check, report.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cluster::{Cluster, NODES, ZONE};
use crate::dns;
use crate::history::{Event, History};
use crate::nemesis::{self, Kind};
use crate::recorder::Recorder;
use crate::report::{self, RunInfo};
use crate::workload::{Workload, DNS_TIMEOUT};

#[derive(Clone, Debug)]
pub struct Options {
    pub nemesis: String,
    pub time_s: u64,
    pub seed: u64,
    pub clients: usize,
    pub leader_readers: usize,
    pub readers: usize,
    pub hosts: usize,
    pub out: Option<PathBuf>,
    pub image: String,
    pub converge_bound_s: u64,
    /// `cluster.snapshot_every` of the nodes; `None`: [`nemesis::JOIN_SNAPSHOT_EVERY`] when
    /// `membership-join` is among the nemeses, else the server's default.
    pub snapshot_every: Option<u64>,
    /// Seconds a brand-new member may take to become a working voter.
    pub join_bound_s: u64,
    /// MB of TXT records imported as zones nobody reads before the load starts, to make
    /// snapshots large; `None`: [`nemesis::JOIN_BALLAST_MB`] when `membership-join` is
    /// among the nemeses, else none.
    pub ballast_mb: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            nemesis: "mix".into(),
            time_s: 60,
            seed: 0,
            clients: 5,
            leader_readers: 2,
            readers: 3,
            hosts: 10,
            out: None,
            image: "quorumdns:jepsen".into(),
            converge_bound_s: 30,
            snapshot_every: None,
            join_bound_s: 60,
            ballast_mb: None,
        }
    }
}

/// `YYYYMMDDTHHMMSSZ` of now (UTC), for folder names.
pub fn utc_stamp() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = ((secs / 86400) as i64, secs % 86400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

/// What every node answers over DNS: (serial, value of each host), or why not.
async fn snapshot(c: &Cluster, hosts: &[String], slot: u32) -> Result<(u32, Vec<Option<String>>), String> {
    let addr = c.dns_addr(slot);
    let serial = dns::soa_serial(addr, ZONE, DNS_TIMEOUT).await?;
    let mut values = Vec::new();
    for h in hosts {
        values.push(dns::a_value(addr, h, DNS_TIMEOUT).await?);
    }
    if dns::soa_serial(addr, ZONE, DNS_TIMEOUT).await? != serial {
        return Err("serial moved".into());
    }
    Ok((serial, values))
}

/// Polls until every node answers the same serial and values; the time it took.
async fn converge(c: &Cluster, hosts: &[String], bound: Duration) -> Option<Duration> {
    let began = Instant::now();
    let mut last = String::new();
    while began.elapsed() < bound {
        let mut views = Vec::new();
        for slot in 1..=NODES {
            views.push(snapshot(c, hosts, slot).await);
        }
        if views.iter().all(|v| v.is_ok()) && views.windows(2).all(|w| w[0] == w[1]) {
            return Some(began.elapsed());
        }
        let now = format!("{views:?}");
        if now != last {
            last = now;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("not converged after {bound:?}: {last}");
    None
}

pub async fn run(opts: Options) -> Result<bool, String> {
    let kinds = Kind::parse_list(&opts.nemesis)?;
    if opts.clients == 0 || opts.hosts == 0 {
        return Err("--clients and --hosts must be at least 1".into());
    }
    let dir = opts.out.clone().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results").join(format!(
            "{}-{}-seed{}",
            utc_stamp(),
            opts.nemesis.replace(',', "+"),
            opts.seed
        ))
    });
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    eprintln!("results in {}", dir.display());
    let snapshot_every =
        opts.snapshot_every.or_else(|| kinds.contains(&Kind::MembershipJoin).then_some(nemesis::JOIN_SNAPSHOT_EVERY));
    let cluster = Arc::new(Cluster::create(&dir, &opts.image, opts.seed, snapshot_every).await?);
    {
        let c = cluster.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupted: tearing down");
                c.teardown();
                std::process::exit(130);
            }
        });
    }
    let rec = Arc::new(Recorder::default());
    let started = Instant::now();
    let outcome = phases(&opts, &kinds, cluster.clone(), rec.clone()).await;
    let history = History::new(rec.events());
    let written = std::fs::File::create(dir.join("history.jsonl"))
        .map_err(|e| e.to_string())
        .and_then(|f| history.write_jsonl(std::io::BufWriter::new(f)).map_err(|e| e.to_string()));
    eprintln!("collecting node logs");
    cluster.collect_logs().await;
    cluster.teardown();
    written?;
    let converged_ms = outcome?;
    let info = RunInfo {
        nemesis: opts.nemesis.clone(),
        seed: opts.seed,
        time_s: opts.time_s,
        wall_s: started.elapsed().as_secs_f64(),
        clients: opts.clients,
        leader_readers: opts.leader_readers,
        readers: opts.readers,
        hosts: opts.hosts,
        converged_ms,
    };
    Ok(report::report(&dir, &history, Some(&info), true))
}

/// Bootstrap, load with faults, heal, converge, final reads: the convergence time.
async fn phases(
    opts: &Options,
    kinds: &[Kind],
    cluster: Arc<Cluster>,
    rec: Arc<Recorder>,
) -> Result<Option<u64>, String> {
    eprintln!(
        "starting 5 nodes on {} ({}.{}.{}.0/24)",
        cluster.network, cluster.prefix[0], cluster.prefix[1], cluster.prefix[2]
    );
    cluster.bootstrap(opts.hosts).await?;
    let ballast_mb =
        opts.ballast_mb.unwrap_or(if kinds.contains(&Kind::MembershipJoin) { nemesis::JOIN_BALLAST_MB } else { 0 });
    if ballast_mb > 0 {
        eprintln!("importing {ballast_mb} MB of ballast");
        eprintln!("ballast: {}", cluster.import_ballast(ballast_mb).await?);
    }
    let hosts = cluster.host_names();
    converge(&cluster, &hosts, Duration::from_secs(30)).await.ok_or("the fresh cluster did not converge")?;
    eprintln!("cluster up; {}s of load with nemesis {}", opts.time_s, opts.nemesis);

    let deadline = Instant::now() + Duration::from_secs(opts.time_s);
    let w = Workload::new(cluster.clone(), rec.clone(), deadline);
    let mut tasks = Vec::new();
    for i in 0..opts.clients {
        tasks.push(tokio::spawn(w.clone().writer(opts.seed.wrapping_mul(1000).wrapping_add(i as u64))));
    }
    for i in 0..opts.leader_readers {
        tasks.push(tokio::spawn(w.clone().leader_reader(opts.seed.wrapping_mul(1000).wrapping_add(100 + i as u64))));
    }
    for i in 0..opts.readers {
        let first = (i as u32 % NODES) + 1;
        tasks
            .push(tokio::spawn(w.clone().dns_reader(opts.seed.wrapping_mul(1000).wrapping_add(200 + i as u64), first)));
    }
    let nem = tokio::spawn(nemesis::run(
        cluster.clone(),
        rec.clone(),
        kinds.to_vec(),
        opts.seed,
        deadline,
        Duration::from_secs(opts.join_bound_s),
    ));
    for t in tasks {
        t.await.map_err(|e| format!("client task: {e}"))?;
    }
    nem.await.map_err(|e| format!("nemesis task: {e}"))?;

    // Heal whatever is left (the nemesis heals its own faults; this is the safety net).
    cluster.heal_all().await?;
    let heal_ns = rec.now_ns();
    eprintln!("healed; waiting for convergence (bound {}s)", opts.converge_bound_s);
    let bound = Duration::from_secs(opts.converge_bound_s);
    let took = converge(&cluster, &hosts, bound).await;
    let after_heal_ms = took.map(|_| (rec.now_ns() - heal_ns) / 1_000_000);
    rec.record(|time_ns| Event::Converged { time_ns, after_heal_ms, bound_ms: bound.as_millis() as u64 });

    for slot in 1..=NODES {
        for host in &hosts {
            let mut got = None;
            for _ in 0..10 {
                if let Ok((value, Some(serial), _)) =
                    dns::bracketed_read(cluster.dns_addr(slot), ZONE, host, DNS_TIMEOUT).await
                {
                    got = Some((value, serial));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            match got {
                Some((value, serial)) => {
                    rec.record(|time_ns| Event::Final { time_ns, node: slot, host: host.clone(), value, serial })
                }
                None => eprintln!("no final read of {host} at node {slot}"),
            }
        }
    }
    record_host_histories(&cluster, &rec, &hosts).await;
    Ok(after_heal_ms)
}

/// Every host's replicated update history from one node (the leader if one is known, else
/// the first that answers), for `duplicate_request` and `revert`. A host whose history no
/// node returns is left out (the checker reports it).
async fn record_host_histories(cluster: &Cluster, rec: &Recorder, hosts: &[String]) {
    let first = cluster.confirmed_leader().await.unwrap_or(1);
    let order: Vec<u32> = std::iter::once(first).chain((1..=NODES).filter(|s| *s != first)).collect();
    for host in hosts {
        let mut last = String::new();
        let mut done = false;
        for _ in 0..3 {
            for &slot in &order {
                match cluster.host_history(slot, host).await {
                    Ok((entries, truncated)) => {
                        rec.record(|time_ns| Event::HostHistory {
                            time_ns,
                            node: slot,
                            host: host.clone(),
                            truncated,
                            entries,
                        });
                        done = true;
                        break;
                    }
                    Err(e) => last = e,
                }
            }
            if done {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        if !done {
            eprintln!("no history of {host}: {last}");
        }
    }
}
