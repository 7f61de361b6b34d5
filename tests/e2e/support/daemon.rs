//! Other DNS servers (BIND `named`, Knot `knotd`) run in the foreground as child
//! processes with their logs collected: secondaries of a quorumdns node, or a peer that
//! serves the same zone file. tests/run.sh installs them (Debian: bind9, knot).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use super::node::free_port;

/// A daemon in the foreground with its stderr collected.
pub(crate) struct Daemon {
    child: Child,
    pub(crate) logs: Arc<Mutex<Vec<String>>>,
    pub(crate) addr: SocketAddr,
}

impl Daemon {
    pub(crate) fn spawn(program: &str, args: &[&str], addr: SocketAddr) -> Daemon {
        let mut child = Command::new(program)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} runs (tests/run.sh installs bind9 and knot): {e}"));
        let logs = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child.stdout.take().map(|p| Box::new(p) as _),
        ]
        .into_iter()
        .flatten()
        {
            let sink = logs.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    sink.lock().unwrap().push(line);
                }
            });
        }
        Daemon { child, logs, addr }
    }

    pub(crate) fn log_text(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Knot serving `zone` from the file `zone_file` as a primary on a free port, with its
/// database in `dir`; returns once it answers the zone's SOA over UDP.
pub(crate) fn knot_primary(dir: &Path, zone: &str, zone_file: &Path) -> Daemon {
    let port = free_port();
    let d = dir.display();
    let conf = format!(
        r#"server:
    rundir: "{d}"
    listen: 127.0.0.1@{port}
log:
  - target: stderr
    any: info
database:
    storage: "{d}"
zone:
  - domain: {zone}
    storage: "{d}"
    file: "{file}"
"#,
        file = zone_file.display()
    );
    let path = dir.join("knot.conf");
    std::fs::write(&path, conf).expect("knot.conf");
    let knot = Daemon::spawn("knotd", &["-c", path.to_str().expect("a UTF-8 path")], ([127, 0, 0, 1], port).into());
    super::wait::eventually_blocking(
        format!("knotd serving {zone}"),
        std::time::Duration::from_secs(30),
        super::wait::POLL,
        || super::dig::soa_serial(knot.addr, zone).ok_or_else(|| knot.log_text()),
    );
    knot
}
