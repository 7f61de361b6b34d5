//! A minimal stub resolver: one question over UDP, again over TCP when the answer comes
//! back truncated. Messages are built and decoded with hickory-proto.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

pub async fn query(server: SocketAddr, name: &str, qtype: RecordType, limit: Duration) -> Result<Message, String> {
    let id: u16 = rand::random();
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).map_err(|e| format!("name {name}: {e}"))?, qtype));
    let bytes = m.to_vec().map_err(|e| format!("encode: {e}"))?;
    let answer =
        timeout(limit, udp(server, &bytes, id)).await.map_err(|_| format!("udp {qtype} {name}: timeout"))??;
    if !answer.metadata.truncation {
        return Ok(answer);
    }
    timeout(limit, tcp(server, &bytes)).await.map_err(|_| format!("tcp {qtype} {name}: timeout"))?
}

async fn udp(server: SocketAddr, bytes: &[u8], id: u16) -> Result<Message, String> {
    let sock = UdpSocket::bind("0.0.0.0:0").await.map_err(|e| format!("bind: {e}"))?;
    sock.connect(server).await.map_err(|e| format!("udp connect: {e}"))?;
    sock.send(bytes).await.map_err(|e| format!("udp send: {e}"))?;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = sock.recv(&mut buf).await.map_err(|e| format!("udp recv: {e}"))?;
        match Message::from_vec(&buf[..n]) {
            Ok(m) if m.metadata.id == id => return Ok(m),
            _ => continue,
        }
    }
}

async fn tcp(server: SocketAddr, bytes: &[u8]) -> Result<Message, String> {
    let mut s = TcpStream::connect(server).await.map_err(|e| format!("tcp connect: {e}"))?;
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    s.write_all(&framed).await.map_err(|e| format!("tcp write: {e}"))?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await.map_err(|e| format!("tcp read: {e}"))?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await.map_err(|e| format!("tcp read: {e}"))?;
    Message::from_vec(&buf).map_err(|e| format!("decode: {e}"))
}

/// The zone's SOA serial as `server` answers it.
pub async fn soa_serial(server: SocketAddr, zone: &str, limit: Duration) -> Result<u32, String> {
    let m = query(server, zone, RecordType::SOA, limit).await?;
    if m.metadata.response_code != ResponseCode::NoError {
        return Err(format!("SOA: {}", m.metadata.response_code));
    }
    m.answers
        .iter()
        .find_map(|r| match &r.data {
            RData::SOA(soa) => Some(soa.serial),
            _ => None,
        })
        .ok_or_else(|| "SOA: no SOA in the answer".to_string())
}

/// The host's A records (sorted, comma separated; `None` for NXDOMAIN or NODATA).
pub async fn a_value(server: SocketAddr, host: &str, limit: Duration) -> Result<Option<String>, String> {
    let m = query(server, host, RecordType::A, limit).await?;
    match m.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Ok(None),
        other => return Err(format!("A {host}: {other}")),
    }
    let mut v: Vec<String> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect();
    v.sort();
    Ok(if v.is_empty() { None } else { Some(v.join(",")) })
}

/// SOA, A, SOA: the value with the serial before and, when both serials agree, the
/// serial the value belongs to. Errors when the first SOA or the A query failed.
pub async fn bracketed_read(
    server: SocketAddr,
    zone: &str,
    host: &str,
    limit: Duration,
) -> Result<(Option<String>, Option<u32>, u32), String> {
    let before = soa_serial(server, zone, limit).await?;
    let value = a_value(server, host, limit).await?;
    let after = soa_serial(server, zone, limit).await.ok();
    Ok((value, after.filter(|a| *a == before), before))
}
