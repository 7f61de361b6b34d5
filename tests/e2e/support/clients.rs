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

/// A python with dnspython and certbot-dns-rfc2136: `QUORUMDNS_PYTHON`, or a venv under
/// the temp dir, made (from PyPI) on first use and reused.
pub(crate) fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("QUORUMDNS_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = std::env::temp_dir().join("quorumdns-e2e-venv");
    let py = venv.join("bin/python");
    let ready = Command::new(&py).args(["-c", "import dns, certbot_dns_rfc2136"]).status().is_ok_and(|s| s.success());
    if !ready {
        let made = Command::new("python3").arg("-m").arg("venv").arg(&venv).status().expect("python3 runs");
        assert!(made.success(), "python3 -m venv");
        let pip = Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "dnspython", "certbot", "certbot-dns-rfc2136"])
            .status()
            .expect("pip runs");
        assert!(pip.success(), "pip install dnspython certbot certbot-dns-rfc2136");
    }
    py
}
