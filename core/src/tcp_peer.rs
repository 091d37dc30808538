//! Who is at the other end of a loopback TCP connection. A ceremony page is served on
//! `127.0.0.1`, where every local user can connect; its URL is a bearer token that may leak (a
//! browser's argv is readable in `/proc`). On Linux the kernel lists every TCP socket with its
//! owner's uid in `/proc/net/tcp` and `/proc/net/tcp6`, so the server can refuse a connection
//! whose client socket belongs to another user before it reads a byte.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

const TABLES: [&str; 2] = ["/proc/net/tcp", "/proc/net/tcp6"];

/// The uid owning the client socket of the connection `peer` → `local`, as the kernel lists
/// it; `None` when no table lists it.
pub fn peer_uid(peer: SocketAddr, local: SocketAddr) -> Option<u32> {
    let (want_local, want_remote) = (encode(peer), encode(local));
    TABLES.iter().find_map(|table| {
        let text = std::fs::read_to_string(table).ok()?;
        text.lines().skip(1).find_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() > 7
                && f[1].eq_ignore_ascii_case(&want_local)
                && f[2].eq_ignore_ascii_case(&want_remote))
            .then(|| f[7].parse().ok())
            .flatten()
        })
    })
}

/// Whether the connection `peer` → `local` comes from this user. Where the kernel keeps no
/// such table (not Linux), nothing can be told and the connection is let through.
pub fn peer_is_us(peer: SocketAddr, local: SocketAddr) -> bool {
    if !Path::new(TABLES[0]).exists() {
        return true;
    }
    crate::local_user::peer_is_us(peer_uid(peer, local))
}

/// `ADDR:PORT` as the kernel prints them: each 32-bit word of the address in host byte order,
/// in hex, then the port.
fn encode(a: SocketAddr) -> String {
    let ip = match a.ip() {
        IpAddr::V4(v4) => format!("{:08X}", u32::from_ne_bytes(v4.octets())),
        IpAddr::V6(v6) => v6
            .octets()
            .chunks(4)
            .map(|w| format!("{:08X}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]])))
            .collect(),
    };
    format!("{ip}:{:04X}", a.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_of_this_user_is_found_as_ours() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let _client = std::net::TcpStream::connect(local).unwrap();
        let (_server, peer) = listener.accept().unwrap();
        if Path::new(TABLES[0]).exists() {
            assert_eq!(peer_uid(peer, local), Some(crate::local_user::euid()));
        }
        assert!(peer_is_us(peer, local));
        // A connection the kernel does not list is nobody's.
        let unknown: SocketAddr = "127.0.0.1:9".parse().unwrap();
        if Path::new(TABLES[0]).exists() {
            assert_eq!(peer_uid(unknown, local), None);
            assert!(!peer_is_us(unknown, local));
        }
    }

    #[test]
    fn addresses_are_spelled_as_the_kernel_spells_them() {
        let a: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let want = if cfg!(target_endian = "little") {
            "0100007F:1F90"
        } else {
            "7F000001:1F90"
        };
        assert_eq!(encode(a), want);
    }
}
