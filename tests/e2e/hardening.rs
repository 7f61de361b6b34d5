//! Abuse resistance against the real binary: cookies across a cluster, UDP response
//! rate limiting with slip, slow-loris TCP clients, brute force of dyndns secrets.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use reqwest::Method;

use crate::support::{eventually_every, Cluster, Node, NodeConfig, TOKEN, ZONE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_cookie_from_one_node_is_valid_on_another() {
    let c = Cluster::start(3, 10_000).await;
    let client = "a1a2a3a4a5a6a7a8";
    let every = Duration::from_millis(100);
    let full = eventually_every("node 0 hands out a server cookie", Duration::from_secs(20), every, async || {
        c.node(0).dig(&[ZONE, "SOA", &format!("+cookie={client}"), "+nobadcookie"]).cookie().filter(|x| x.len() == 48)
    })
    .await;
    for i in 1..3 {
        // The secret reaches every node through the log; poll until it has.
        let what = format!("node {i} accepts node 0's server cookie");
        eventually_every(what, Duration::from_secs(10), every, async || {
            let d = c.node(i).dig(&[ZONE, "SOA", &format!("+cookie={full}"), "+nobadcookie"]);
            d.cookie_is_good().then_some(()).ok_or(d.raw)
        })
        .await;
    }
}

/// A query for `name` A with id `id`, optionally with an EDNS COOKIE option.
fn query(id: u16, name: &str, cookie: Option<&[u8]>) -> Vec<u8> {
    let mut q = vec![(id >> 8) as u8, id as u8, 0, 0, 0, 1, 0, 0, 0, 0, 0, u8::from(cookie.is_some())];
    for l in name.split('.') {
        q.push(l.len() as u8);
        q.extend_from_slice(l.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    if let Some(c) = cookie {
        q.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0]);
        q.extend_from_slice(&((c.len() + 4) as u16).to_be_bytes());
        q.extend_from_slice(&[0, 10]);
        q.extend_from_slice(&(c.len() as u16).to_be_bytes());
        q.extend_from_slice(c);
    }
    q
}

/// Sends `n` queries from `from` as fast as possible and collects the answers:
/// (full answers, TC=1 slips).
fn burst(from: &str, server: SocketAddr, n: u16, cookie: Option<&[u8]>) -> (usize, usize, Vec<Vec<u8>>) {
    let sock = UdpSocket::bind(from).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let name = format!("ns1.{ZONE}");
    for id in 0..n {
        sock.send_to(&query(id, &name, cookie), server).unwrap();
    }
    let (mut full, mut slipped, mut all) = (0, 0, Vec::new());
    let mut buf = [0u8; 1500];
    while let Ok((len, _)) = sock.recv_from(&mut buf) {
        let r = buf[..len].to_vec();
        if r[2] & 0x02 != 0 {
            slipped += 1;
        } else {
            full += 1;
        }
        all.push(r);
    }
    (full, slipped, all)
}

#[tokio::test]
async fn a_burst_from_one_source_is_limited_with_slips_while_others_and_tcp_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_config(&NodeConfig::dev(dir.path()).with(|c| {
        c.dns.rrl_responses_per_second = Some(5);
        c.dns.rrl_burst = Some(5);
        c.dns.rrl_slip = Some(2);
        c.dns.rrl_ipv4_prefix = Some(32);
    }));
    let (full, slipped, _) = burst("127.0.0.1:0", node.dns, 100, None);
    assert!(full <= 10, "at most the burst plus refill gets full answers: {full}");
    assert!(slipped >= 30, "about every 2nd limited answer slips as TC: {slipped}");
    assert!(full + slipped < 100, "the rest is dropped: {full} + {slipped}");
    // Another source is served; so is TCP from the limited source.
    let (other_full, _, _) = burst("127.0.0.2:0", node.dns, 3, None);
    assert_eq!(other_full, 3);
    let d = node.dig(&[&format!("ns1.{ZONE}"), "A", "+tcp"]);
    assert_eq!(d.answer_data("A"), vec!["127.0.0.1"], "{}", d.raw);
    // The limited source with a valid server cookie is exempt.
    let client = [9u8; 8];
    let (_, _, answers) = burst("127.0.0.3:0", node.dns, 1, Some(&client));
    let server_cookie =
        answers.first().and_then(|r| r.windows(4).position(|w| w == [0, 10, 0, 24]).map(|i| r[i + 4..i + 28].to_vec()));
    let server_cookie = server_cookie.expect("a server cookie in the answer");
    let sock = UdpSocket::bind("127.0.0.3:0").unwrap();
    drop(sock);
    let (full, slipped, _) = burst("127.0.0.3:0", node.dns, 50, Some(&server_cookie));
    assert_eq!((full, slipped), (50, 0), "valid cookies are not rate limited");
    let metrics = reqwest::get(node.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("quorumdns_dns_rrl_total{action=\"dropped\"}"), "metrics:\n{metrics}");
    assert!(metrics.contains("quorumdns_dns_rrl_total{action=\"slipped\"}"));
}

fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 64];
    matches!(stream.read(&mut buf), Ok(0) | Err(_))
        && {
            // Err can be a timeout: distinguish by asking again without waiting long.
            stream.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
            !matches!(stream.read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut)
        }
}

#[tokio::test]
async fn slow_loris_tcp_connections_are_closed_and_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_config(&NodeConfig::dev(dir.path()).with(|c| {
        c.dns.tcp_idle_timeout_secs = Some(2);
        c.dns.tcp_max_per_client = Some(4);
    }));
    let start = Instant::now();
    let mut idle = TcpStream::connect(node.dns).unwrap();
    let mut dribble = TcpStream::connect(node.dns).unwrap();
    let q = query(7, &format!("ns1.{ZONE}"), None);
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    // Byte by byte, one every 300 ms: the whole message must arrive within the timeout.
    let sender = std::thread::spawn(move || {
        for b in framed {
            if dribble.write_all(&[b]).is_err() {
                return Some(dribble);
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        Some(dribble)
    });
    // Meanwhile other clients are served, over UDP and TCP.
    for _ in 0..3 {
        assert_eq!(node.dig(&[&format!("ns1.{ZONE}"), "A", "+tcp"]).answer_data("A"), vec!["127.0.0.1"]);
        assert_eq!(node.dig(&[&format!("ns1.{ZONE}"), "A"]).answer_data("A"), vec!["127.0.0.1"]);
    }
    assert!(closed_within(&mut idle, Duration::from_secs(5)), "idle connection closed");
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(1500) && waited < Duration::from_secs(5), "{waited:?}");
    let mut dribble = sender.join().unwrap().unwrap();
    let mut buf = [0u8; 512];
    dribble.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    assert!(matches!(dribble.read(&mut buf), Ok(0) | Err(_)), "the byte-by-byte client got no answer and was closed");
    // Per-client limit: the fifth concurrent connection from one address is closed at once.
    let mut held: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(node.dns).unwrap()).collect();
    // Each one answered: the server has accepted (and counts) all four.
    for (id, conn) in held.iter_mut().enumerate() {
        conn.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        conn.write_all(&self::framed(&query(100 + id as u16, &format!("ns1.{ZONE}"), None))).unwrap();
        assert!(read_answer(conn).is_some(), "held connection {id} is served");
    }
    let mut fifth = TcpStream::connect(node.dns).unwrap();
    assert!(closed_within(&mut fifth, Duration::from_secs(1)), "fifth connection refused");
    held.clear();
}

#[tokio::test]
async fn brute_force_of_dyndns_secrets_is_throttled_per_address_and_name() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_config(&NodeConfig::dev(dir.path()).with(|c| {
        c.http.auth_fail_limit = Some(5);
        c.http.auth_fail_window_secs = Some(60);
        c.dyndns.min_update_interval_secs = Some(0);
    }));
    let register = async |fqdn: &str| {
        let (s, b) = node.api(Method::GET, &format!("/nic/register?fqdn={fqdn}"), None).await;
        assert_eq!(s, 200, "{b}");
        b["host"]["update_secret"].as_str().unwrap().to_string()
    };
    let (fqdn, neighbour) = (format!("bf.{ZONE}"), format!("neighbour.{ZONE}"));
    let secret = register(&fqdn).await;
    let neighbour_secret = register(&neighbour).await;
    let attacker =
        reqwest::Client::builder().local_address("127.0.0.5".parse::<std::net::IpAddr>().ok()).build().unwrap();
    let other = reqwest::Client::builder().local_address("127.0.0.6".parse::<std::net::IpAddr>().ok()).build().unwrap();
    let url = node.url(&format!("/nic/update?hostname={fqdn}&myip=192.0.2.44"));
    let mut statuses = Vec::new();
    for i in 0..12 {
        let r = attacker.get(&url).basic_auth(&fqdn, Some(format!("wrong-{i}"))).send().await.unwrap();
        let retry = r.headers().get("retry-after").is_some();
        statuses.push((r.status().as_u16(), r.text().await.unwrap(), retry));
    }
    assert!(statuses[..5].iter().all(|(s, b, _)| *s == 200 && b == "badauth"), "{statuses:?}");
    // Throttled: an answer clients retry (inadyn exits on 429 and on badauth).
    assert!(statuses[5..].iter().all(|(s, b, r)| *s == 503 && b == "911" && *r), "{statuses:?}");
    // Throttled means unchecked: even the right secret is refused from that address...
    let r = attacker.get(&url).basic_auth(&fqdn, Some(&secret)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 503);
    // ...while another address still gets through with it, and another host's secret and
    // the admin API from the same address are not delayed.
    let r = other.get(&url).basic_auth(&fqdn, Some(&secret)).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.text().await.unwrap()), (200, "good 192.0.2.44".to_string()));
    let r = attacker
        .get(node.url("/nic/update?myip=192.0.2.45"))
        .basic_auth(&neighbour, Some(&neighbour_secret))
        .send()
        .await
        .unwrap();
    assert_eq!((r.status().as_u16(), r.text().await.unwrap()), (200, "good 192.0.2.45".to_string()));
    let r = attacker.get(node.url("/api/v1/zones")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // API tokens too (counted per token id; a token without one as `bearer`), and the
    // management API carries security headers.
    for _ in 0..6 {
        attacker.get(node.url("/api/v1/zones")).bearer_auth("nope").send().await.unwrap();
    }
    let r = attacker.get(node.url("/api/v1/zones")).bearer_auth("nope").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().get("retry-after").is_some());
    let (s, _) = node.api(Method::GET, "/api/v1/zones", None).await;
    assert_eq!(s, 200);
    let r = other.get(node.url("/api/v1/zones")).bearer_auth(TOKEN).send().await.unwrap();
    let h = r.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["cache-control"], "no-store");
}

/// `q` with its two-octet TCP length prefix.
fn framed(q: &[u8]) -> Vec<u8> {
    let mut f = (q.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(q);
    f
}

/// Reads one length-prefixed answer; None when the server closed the connection.
fn read_answer(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).ok()?;
    let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut msg).ok()?;
    Some(msg)
}

fn tcp_closed_metric(metrics: &str, reason: &str) -> u64 {
    let key = format!("quorumdns_dns_tcp_closed_total{{reason=\"{reason}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(&key)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn a_busy_tcp_connection_is_closed_at_its_caps_while_a_new_one_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_config(&NodeConfig::dev(dir.path()).with(|c| {
        c.dns.tcp_idle_timeout_secs = Some(5);
        c.dns.tcp_max_lifetime_secs = Some(2);
        c.dns.tcp_max_queries = Some(20);
    }));
    let name = format!("ns1.{ZONE}");

    // Query cap: 25 pipelined queries get 20 answers, then the connection closes.
    let mut pipelined = TcpStream::connect(node.dns).unwrap();
    pipelined.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let all: Vec<u8> = (0..25).flat_map(|id| framed(&query(id, &name, None))).collect();
    let _ = pipelined.write_all(&all);
    let mut ids = Vec::new();
    while let Some(a) = read_answer(&mut pipelined) {
        ids.push(u16::from_be_bytes([a[0], a[1]]));
    }
    assert_eq!(ids, (0..20).collect::<Vec<u16>>(), "the first 20 queries are answered, in order, then EOF");

    // Lifetime cap: a client that keeps sending valid queries, one every 250 ms, is
    // answered until the connection is 2 s old and then closed, well before its query cap
    // or idle timeout.
    let mut busy = TcpStream::connect(node.dns).unwrap();
    busy.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let start = Instant::now();
    let mut answered = 0u16;
    let closed_after = loop {
        assert!(answered < 19, "the lifetime cap closes the connection before the query cap");
        if busy.write_all(&framed(&query(answered, &name, None))).is_err() {
            break start.elapsed();
        }
        match read_answer(&mut busy) {
            Some(a) => {
                assert_eq!(u16::from_be_bytes([a[0], a[1]]), answered);
                answered += 1;
            }
            None => break start.elapsed(),
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(answered >= 3, "the busy connection was served until its lifetime ended ({answered} answers)");
    assert!(
        closed_after < Duration::from_secs(5),
        "closed by the lifetime cap, not the idle timeout: {closed_after:?}"
    );

    // A new connection from the same client is served.
    let mut fresh = TcpStream::connect(node.dns).unwrap();
    fresh.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    fresh.write_all(&framed(&query(77, &name, None))).unwrap();
    let a = read_answer(&mut fresh).expect("a new connection is answered");
    assert_eq!(u16::from_be_bytes([a[0], a[1]]), 77);

    let metrics = reqwest::get(node.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(tcp_closed_metric(&metrics, "queries") >= 1, "metrics:\n{metrics}");
    assert!(tcp_closed_metric(&metrics, "lifetime") >= 1, "metrics:\n{metrics}");
}
