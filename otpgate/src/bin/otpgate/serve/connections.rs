//! How many client connections the service holds open: at most `--max-connections` in all
//! and `--max-connections-per-peer` from one IP address. Every connection is a file, and so
//! is every database connection and SQLite file the service opens: without a limit, one
//! client opening connections (idle ones are closed only after the 10 s header timeout)
//! could take every file descriptor and turn every runner away, the database included.
//!
//! A connection over a limit is closed as soon as it is accepted, before TLS or HTTP: its
//! client sees the connection closed at once and tries again later (a runner: exit 2),
//! rather than waiting in the listen queue for a place that an attacker holds. Unix-socket
//! clients count towards the total only (they have no address to tell them apart). An IPv6
//! peer is its /64 (one host is commonly given a whole /64, so counting single addresses
//! would not limit it); an IPv4 address mapped into IPv6 is that IPv4 address.

use std::collections::HashMap;
use std::fmt::Write;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Files kept free for the database connections, SQLite's files, the delivery command's
/// pipes and the listener itself, when the total is bounded by the open files limit.
pub const RESERVED_FILES: u64 = 128;

/// At most one log line per this long about refused connections (a flood of them would
/// otherwise be a flood of lines).
const LOG_EVERY: Duration = Duration::from_secs(10);

/// The open connections, by peer.
#[derive(Default)]
struct Open {
    total: usize,
    by_peer: HashMap<IpAddr, usize>,
}

/// The service's connection limits and counts (see the [module](self)).
pub struct Connections {
    max_total: usize,
    max_per_peer: usize,
    open: Mutex<Open>,
    refused_per_peer: AtomicU64,
    refused_total: AtomicU64,
    last_logged: Mutex<Option<Instant>>,
}

/// Why a connection was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Its peer already holds `--max-connections-per-peer`.
    PerPeer,
    /// The service already holds `--max-connections`.
    Total,
}

/// A connection counted as open until it is dropped (when the connection's task ends).
pub struct Admitted {
    connections: Arc<Connections>,
    peer: Option<IpAddr>,
}

impl Connections {
    pub fn new(max_total: usize, max_per_peer: usize) -> Arc<Self> {
        Arc::new(Connections {
            max_total,
            max_per_peer,
            open: Mutex::default(),
            refused_per_peer: AtomicU64::new(0),
            refused_total: AtomicU64::new(0),
            last_logged: Mutex::new(None),
        })
    }

    fn open(&self) -> MutexGuard<'_, Open> {
        // The counts are whole between statements: a panic elsewhere leaves them usable.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a new connection from `peer` (`None`: a unix socket) as open, unless that
    /// would pass a limit.
    pub fn admit(self: &Arc<Self>, peer: Option<IpAddr>) -> Result<Admitted, Refused> {
        let peer = peer.map(counted_as);
        let mut open = self.open();
        let refused = if open.total >= self.max_total {
            Some(Refused::Total)
        } else if let Some(ip) = peer
            && open.by_peer.get(&ip).copied().unwrap_or(0) >= self.max_per_peer
        {
            Some(Refused::PerPeer)
        } else {
            None
        };
        if let Some(refused) = refused {
            drop(open);
            self.refused(refused, peer);
            return Err(refused);
        }
        open.total = open.total.saturating_add(1);
        if let Some(ip) = peer {
            let count = open.by_peer.entry(ip).or_insert(0);
            *count = count.saturating_add(1);
        }
        Ok(Admitted {
            connections: Arc::clone(self),
            peer,
        })
    }

    fn refused(&self, refused: Refused, peer: Option<IpAddr>) {
        let counter = match refused {
            Refused::PerPeer => &self.refused_per_peer,
            Refused::Total => &self.refused_total,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let mut last = self.last_logged.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|at| at.elapsed() >= LOG_EVERY) {
            *last = Some(Instant::now());
            drop(last);
            let (limit, max) = match refused {
                Refused::PerPeer => ("--max-connections-per-peer", self.max_per_peer),
                Refused::Total => ("--max-connections", self.max_total),
            };
            let from = match peer {
                None => String::from("a unix socket"),
                Some(IpAddr::V6(net)) => format!("{net}/64"),
                Some(IpAddr::V4(ip)) => ip.to_string(),
            };
            eprintln!(
                "otpgate serve: closing new connections from {from}: {max} open ({limit}); \
                 at most one such line per {} s, every one counted in \
                 otpgate_connections_refused_total",
                LOG_EVERY.as_secs()
            );
        }
    }

    /// The counts in Prometheus' text format.
    pub fn render(&self, out: &mut String) {
        let open = self.open().total;
        let _ = writeln!(
            out,
            "# HELP otpgate_connections_open Client connections open.\n\
             # TYPE otpgate_connections_open gauge\n\
             otpgate_connections_open {open}\n\
             # HELP otpgate_connections_refused_total Connections closed as soon as they \
             were accepted, by the limit they met.\n\
             # TYPE otpgate_connections_refused_total counter\n\
             otpgate_connections_refused_total{{limit=\"per-peer\"}} {}\n\
             otpgate_connections_refused_total{{limit=\"total\"}} {}",
            self.refused_per_peer.load(Ordering::Relaxed),
            self.refused_total.load(Ordering::Relaxed),
        );
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.connections.open();
        open.total = open.total.saturating_sub(1);
        if let Some(ip) = self.peer
            && let Some(count) = open.by_peer.get_mut(&ip)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.by_peer.remove(&ip);
            }
        }
    }
}

/// The address a peer is counted under: an IPv6 address's /64, an IPv4-mapped address's
/// IPv4 address, any other address itself.
fn counted_as(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        },
        IpAddr::V4(_) => ip,
    }
}

/// `--max-connections`, bounded by what the open files limit leaves after
/// [`RESERVED_FILES`]: past it, `accept` itself would fail, and so would opening the
/// database.
pub fn bounded_total(requested: usize, open_files_limit: u64) -> usize {
    let available = open_files_limit.saturating_sub(RESERVED_FILES).max(1);
    requested.min(usize::try_from(available).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const A: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)));
    const B: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)));

    #[test]
    fn a_peer_at_its_limit_is_refused_and_others_are_not_until_the_total() {
        let connections = Connections::new(3, 2);
        let a1 = connections.admit(A).unwrap();
        let _a2 = connections.admit(A).unwrap();
        assert_eq!(connections.admit(A).err(), Some(Refused::PerPeer));
        let _b1 = connections.admit(B).unwrap();
        assert_eq!(connections.admit(B).err(), Some(Refused::Total));
        assert_eq!(connections.admit(None).err(), Some(Refused::Total));
        drop(a1);
        let _a3 = connections.admit(A).unwrap();
        let mut metrics = String::new();
        connections.render(&mut metrics);
        assert!(
            metrics.contains("otpgate_connections_open 3\n"),
            "{metrics}"
        );
        assert!(metrics.contains("{limit=\"per-peer\"} 1\n"), "{metrics}");
        assert!(metrics.contains("{limit=\"total\"} 2"), "{metrics}");
    }

    #[test]
    fn unix_socket_clients_count_towards_the_total_only() {
        let connections = Connections::new(3, 1);
        let _u1 = connections.admit(None).unwrap();
        let _u2 = connections.admit(None).unwrap();
        let _a = connections.admit(A).unwrap();
        assert_eq!(connections.admit(None).err(), Some(Refused::Total));
    }

    #[test]
    fn an_ipv6_peer_is_its_64_and_a_mapped_ipv4_peer_its_ipv4_address() {
        let connections = Connections::new(10, 1);
        let host = |last: u16| {
            Some(IpAddr::V6(Ipv6Addr::new(
                0x2001, 0xdb8, 0, 1, 0, 0, 0, last,
            )))
        };
        let _first = connections.admit(host(1)).unwrap();
        assert_eq!(connections.admit(host(2)).err(), Some(Refused::PerPeer));
        let other_64 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 1));
        let _other = connections.admit(Some(other_64)).unwrap();
        let _a = connections.admit(A).unwrap();
        let mapped = IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001));
        assert_eq!(
            connections.admit(Some(mapped)).err(),
            Some(Refused::PerPeer)
        );
    }

    #[test]
    fn the_total_leaves_files_for_the_database() {
        assert_eq!(bounded_total(4096, 1024), 896);
        assert_eq!(bounded_total(4096, 1 << 20), 4096);
        assert_eq!(bounded_total(4096, 10), 1);
    }
}
