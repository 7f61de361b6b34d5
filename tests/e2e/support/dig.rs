//! dig, run as a real client, and its output parsed into types: the rcode, the header
//! flags, the records of each section, and the OPT pseudo-section lines (EDNS, NSID,
//! COOKIE).

use std::fmt;
use std::net::SocketAddr;
use std::process::Command;

/// The response code dig printed (`status:`), extended rcodes included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Rcode {
    /// dig printed no header: no response (timeout, refused connection).
    #[default]
    NoResponse,
    NoError,
    FormErr,
    ServFail,
    NxDomain,
    NotImp,
    Refused,
    YxDomain,
    YxRrset,
    NxRrset,
    NotAuth,
    NotZone,
    BadVers,
    BadCookie,
    Other(String),
}

impl Rcode {
    fn parse(s: &str) -> Rcode {
        match s {
            "NOERROR" => Rcode::NoError,
            "FORMERR" => Rcode::FormErr,
            "SERVFAIL" => Rcode::ServFail,
            "NXDOMAIN" => Rcode::NxDomain,
            "NOTIMP" => Rcode::NotImp,
            "REFUSED" => Rcode::Refused,
            "YXDOMAIN" => Rcode::YxDomain,
            "YXRRSET" => Rcode::YxRrset,
            "NXRRSET" => Rcode::NxRrset,
            "NOTAUTH" => Rcode::NotAuth,
            "NOTZONE" => Rcode::NotZone,
            "BADVERS" => Rcode::BadVers,
            "BADCOOKIE" => Rcode::BadCookie,
            other => Rcode::Other(other.to_string()),
        }
    }
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Rcode::NoResponse => "(no response)",
            Rcode::NoError => "NOERROR",
            Rcode::FormErr => "FORMERR",
            Rcode::ServFail => "SERVFAIL",
            Rcode::NxDomain => "NXDOMAIN",
            Rcode::NotImp => "NOTIMP",
            Rcode::Refused => "REFUSED",
            Rcode::YxDomain => "YXDOMAIN",
            Rcode::YxRrset => "YXRRSET",
            Rcode::NxRrset => "NXRRSET",
            Rcode::NotAuth => "NOTAUTH",
            Rcode::NotZone => "NOTZONE",
            Rcode::BadVers => "BADVERS",
            Rcode::BadCookie => "BADCOOKIE",
            Rcode::Other(s) => s,
        };
        f.write_str(name)
    }
}

/// The header flags dig printed (`;; flags: qr aa;`); `other` keeps any it has no field
/// for, so comparing two `Flags` compares the whole set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Flags {
    pub qr: bool,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    pub ad: bool,
    pub cd: bool,
    pub other: Vec<String>,
}

impl Flags {
    /// Flags from dig's space-separated list (`"qr aa"`).
    pub(crate) fn parse(text: &str) -> Flags {
        let mut f = Flags::default();
        for name in text.split_whitespace() {
            match name {
                "qr" => f.qr = true,
                "aa" => f.aa = true,
                "tc" => f.tc = true,
                "rd" => f.rd = true,
                "ra" => f.ra = true,
                "ad" => f.ad = true,
                "cd" => f.cd = true,
                other => f.other.push(other.to_string()),
            }
        }
        f.other.sort();
        f
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known = [
            (self.qr, "qr"),
            (self.aa, "aa"),
            (self.tc, "tc"),
            (self.rd, "rd"),
            (self.ra, "ra"),
            (self.ad, "ad"),
            (self.cd, "cd"),
        ];
        let names: Vec<&str> = known
            .iter()
            .filter(|(set, _)| *set)
            .map(|(_, n)| *n)
            .chain(self.other.iter().map(String::as_str))
            .collect();
        f.write_str(&names.join(" "))
    }
}

/// One resource record line of a section.
#[derive(Debug, Clone)]
pub(crate) struct Rr {
    pub name: String,
    pub ttl: u32,
    pub rtype: String,
    pub data: String,
}

impl Rr {
    fn parse(line: &str) -> Option<Rr> {
        let mut it = line.split_whitespace();
        let name = it.next()?.to_string();
        let ttl = it.next()?.parse().ok()?;
        let _class = it.next()?;
        let rtype = it.next()?.to_string();
        let data = it.collect::<Vec<_>>().join(" ");
        Some(Rr { name, ttl, rtype, data })
    }

    /// The serial of an SOA record (its third RDATA field).
    pub(crate) fn soa_serial(&self) -> Option<u32> {
        (self.rtype == "SOA").then(|| self.data.split_whitespace().nth(2)?.parse().ok()).flatten()
    }
}

/// What dig printed, parsed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dig {
    pub rcode: Rcode,
    pub flags: Flags,
    pub answer: Vec<Rr>,
    pub authority: Vec<Rr>,
    pub additional: Vec<Rr>,
    pub raw: String,
}

impl Dig {
    /// The data of the answer records of `rtype`, sorted.
    pub(crate) fn answer_data(&self, rtype: &str) -> Vec<String> {
        let mut v: Vec<String> = self.answer.iter().filter(|r| r.rtype == rtype).map(|r| r.data.clone()).collect();
        v.sort();
        v
    }

    /// The serial of the first SOA record in the answer.
    pub(crate) fn soa_serial(&self) -> Option<u32> {
        self.answer.iter().find_map(Rr::soa_serial)
    }

    /// The first line of the output that starts with `prefix` (OPT pseudo-section lines:
    /// `; EDNS:`, `; NSID:`, `; COOKIE:`).
    pub(crate) fn opt_line(&self, prefix: &str) -> Option<String> {
        self.raw.lines().find(|l| l.starts_with(prefix)).map(str::to_string)
    }

    /// The `; EDNS: ...` line, if the response had an OPT record.
    pub(crate) fn edns(&self) -> Option<String> {
        self.opt_line("; EDNS:")
    }

    /// The hex of the COOKIE option dig printed, if any.
    pub(crate) fn cookie(&self) -> Option<String> {
        let line = self.opt_line("; COOKIE: ")?;
        Some(line["; COOKIE: ".len()..].split_whitespace().next()?.to_string())
    }

    /// Whether dig marked the server cookie it got back as valid (`(good)`).
    pub(crate) fn cookie_is_good(&self) -> bool {
        self.opt_line("; COOKIE: ").is_some_and(|l| l.contains("(good)"))
    }

    fn parse(raw: String) -> Dig {
        let mut d = Dig::default();
        let mut section = "";
        for line in raw.lines() {
            if let Some(i) = line.find("status: ") {
                d.rcode = Rcode::parse(line[i + 8..].split(',').next().unwrap_or("").trim());
            }
            if let Some(rest) = line.strip_prefix(";; flags: ") {
                d.flags = Flags::parse(rest.split(';').next().unwrap_or(""));
            }
            if line.starts_with(";; ANSWER SECTION") {
                section = "answer";
            } else if line.starts_with(";; AUTHORITY SECTION") {
                section = "authority";
            } else if line.starts_with(";; ADDITIONAL SECTION") {
                section = "additional";
            } else if line.trim().is_empty() {
                section = "";
            } else if !line.starts_with(';') {
                if let Some(rr) = Rr::parse(line) {
                    match section {
                        "answer" => d.answer.push(rr),
                        "authority" => d.authority.push(rr),
                        "additional" => d.additional.push(rr),
                        _ => {}
                    }
                }
            }
        }
        d.raw = raw;
        d
    }
}

/// `dig @server -p port +norecurse +time=3 +tries=2 <args>`, parsed.
pub(crate) fn dig(server: SocketAddr, args: &[&str]) -> Dig {
    let out = Command::new("dig")
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string(), "+norecurse", "+time=3", "+tries=2"])
        .args(args)
        .output()
        .expect("dig is installed (bind9-dnsutils / dnsutils)");
    Dig::parse(String::from_utf8_lossy(&out.stdout).to_string())
}

/// The zone's SOA serial as `server` answers it, if it answers one.
pub(crate) fn soa_serial(server: SocketAddr, zone: &str) -> Option<u32> {
    dig(server, &[zone, "SOA"]).soa_serial()
}
