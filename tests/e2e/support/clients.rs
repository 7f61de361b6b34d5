//! The real client programs the tests drive, found and run: system packages (ddclient,
//! inadyn...) and a Python with dnspython and certbot.

use std::path::PathBuf;
use std::process::Command;

/// The path of an installed program, looked up in the usual system directories.
pub(crate) fn tool(name: &str) -> String {
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"] {
        let p = format!("{dir}/{name}");
        if std::path::Path::new(&p).exists() {
            return p;
        }
    }
    panic!("{name} is not installed (tests/run.sh installs it: apt-get install {name})");
}

/// Runs `cmd` to the end; its stdout and stderr.
pub(crate) fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the client runs");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A python with dnspython, certbot-dns-rfc2136 and pyacmedns (joohoi's acme-dns client):
/// `QUORUMDNS_PYTHON`, or a venv under the temp dir, made (from PyPI) on first use and
/// reused.
pub(crate) fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("QUORUMDNS_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = std::env::temp_dir().join("quorumdns-e2e-venv");
    let py = venv.join("bin/python");
    let ready = Command::new(&py)
        .args(["-c", "import dns, certbot_dns_rfc2136, pyacmedns"])
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        let made = Command::new("python3").arg("-m").arg("venv").arg(&venv).status().expect("python3 runs");
        assert!(made.success(), "python3 -m venv");
        let pip = Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "dnspython", "certbot", "certbot-dns-rfc2136", "pyacmedns"])
            .status()
            .expect("pip runs");
        assert!(pip.success(), "pip install dnspython certbot certbot-dns-rfc2136 pyacmedns");
    }
    py
}

/// A client running as a daemon (ddclient, inadyn), its output collected in a file,
/// killed on drop. Tests nudge it with its own signals instead of waiting for its period,
/// but only once it handles them (`ready`): before, a signal's default action ends it.
pub(crate) struct Daemon {
    child: std::process::Child,
    log: PathBuf,
    name: String,
    ready: fn(&Daemon) -> bool,
}

impl Daemon {
    /// Starts `cmd` with stdout and stderr into `log`; `ready` tells when it has installed
    /// its signal handlers.
    pub(crate) fn spawn(name: &str, mut cmd: Command, log: PathBuf, ready: fn(&Daemon) -> bool) -> Daemon {
        let out = std::fs::File::create(&log).expect("the daemon's log file");
        let err = out.try_clone().expect("the daemon's log file");
        let child = cmd.stdout(out).stderr(err).spawn().unwrap_or_else(|e| panic!("{name} starts: {e}"));
        Daemon { child, log, name: name.into(), ready }
    }

    /// Everything it printed so far.
    pub(crate) fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How often `needle` appears in its output.
    pub(crate) fn count(&self, needle: &str) -> usize {
        self.output().matches(needle).count()
    }

    /// Its command line as the process shows it now (ddclient rewrites it: "ddclient -
    /// sleeping for 60 seconds").
    pub(crate) fn cmdline(&self) -> String {
        let raw = std::fs::read(format!("/proc/{}/cmdline", self.child.id())).unwrap_or_default();
        String::from_utf8_lossy(&raw).replace('\0', " ")
    }

    /// Sends `signal` (`HUP`, `USR2`...) once it handles signals; whether it was sent.
    pub(crate) fn nudge(&self, signal: &str) -> bool {
        if !(self.ready)(self) {
            return false;
        }
        let ok = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status();
        assert!(ok.is_ok_and(|s| s.success()), "kill -{signal} {}", self.name);
        true
    }

    /// Panics with its output when it has exited: a daemon must survive what the server
    /// answers.
    pub(crate) fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited ({status}):\n{}", self.name, self.output());
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
