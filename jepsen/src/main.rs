//! `quorumdns-jepsen run --nemesis NAME --time SECONDS --seed N [--clients C]
//! [--leader-readers L] [--readers R] [--hosts H] [--out DIR] [--image TAG]
//! [--converge-bound SECONDS] [--snapshot-every N] [--join-bound SECONDS] [--ballast-mb MB]`
//! `quorumdns-jepsen check PATH/history.jsonl`
//! Exit code 0 only when every checker passed.

use std::path::PathBuf;

use quorumdns_jepsen::history::History;
use quorumdns_jepsen::run::{run, Options};

const USAGE: &str = "usage:
  quorumdns-jepsen run --nemesis NAME[,NAME..] --time SECONDS --seed N
                       [--clients C] [--leader-readers L] [--readers R] [--hosts H]
                       [--out DIR] [--image TAG] [--converge-bound SECONDS]
                       [--snapshot-every N] [--join-bound SECONDS] [--ballast-mb MB]
      nemeses: partition-majority, partition-leader, bridge, kill, pause, membership,
               leader-churn, membership-join, mix, none
  quorumdns-jepsen check PATH/history.jsonl";

fn parse_run(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut val = || it.next().cloned().ok_or_else(|| format!("{flag} needs a value"));
        let num = |v: String| v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--nemesis" => o.nemesis = val()?,
            "--time" => o.time_s = num(val()?)?,
            "--seed" => o.seed = num(val()?)?,
            "--clients" => o.clients = num(val()?)? as usize,
            "--leader-readers" => o.leader_readers = num(val()?)? as usize,
            "--readers" => o.readers = num(val()?)? as usize,
            "--hosts" => o.hosts = num(val()?)? as usize,
            "--out" => o.out = Some(PathBuf::from(val()?)),
            "--image" => o.image = val()?,
            "--converge-bound" => o.converge_bound_s = num(val()?)?,
            "--snapshot-every" => o.snapshot_every = Some(num(val()?)?).filter(|n| *n > 0),
            "--join-bound" => o.join_bound_s = num(val()?)?,
            "--ballast-mb" => o.ballast_mb = Some(num(val()?)?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(o)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("run") => match parse_run(&args[1..]) {
            Ok(opts) => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                match rt.block_on(run(opts)) {
                    Ok(true) => 0,
                    Ok(false) => 1,
                    Err(e) => {
                        eprintln!("run failed: {e}");
                        2
                    }
                }
            }
            Err(e) => {
                eprintln!("{e}\n{USAGE}");
                2
            }
        },
        Some("check") if args.len() == 2 => {
            let path = PathBuf::from(&args[1]);
            match std::fs::File::open(&path)
                .map_err(|e| e.to_string())
                .and_then(|f| History::read_jsonl(std::io::BufReader::new(f)))
            {
                Ok(h) => {
                    // Prints the verdicts; the run's own summary files stay as they were.
                    let dir = path.parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
                    if quorumdns_jepsen::report::report(&dir, &h, None, false) {
                        0
                    } else {
                        1
                    }
                }
                Err(e) => {
                    eprintln!("{}: {e}", path.display());
                    2
                }
            }
        }
        _ => {
            eprintln!("{USAGE}");
            2
        }
    };
    std::process::exit(code);
}
