//! How many client connections the service holds open: at most `--max-connections` in all
//! and `--max-connections-per-peer` from one IP address. Every connection is a file, and so
//! is every database connection and SQLite file the service opens: without a limit, one
//! client opening connections (idle ones are closed only after the 10 s header timeout)
//! could take every file descriptor and turn every runner away, the database included.
//!
//! A connection over a limit is closed as soon as it is accepted, before TLS or HTTP: its
//! client sees the connection closed at once and tries again later (a runner: exit 2),
//! rather than waiting in the listen queue for a place that an attacker holds. A peer is
//! one address (an IPv4 address mapped into IPv6 is that IPv4 address): runners behind one
//! NAT gateway or proxy share its budget, and a client with many addresses (an IPv6
//! subnet) is bounded only by the total. Unix-socket clients count towards the total only.

use std::collections::HashMap;
use std::fmt::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Files kept free, when the total is bounded by the open files limit, for the listener,
/// the delivery command's pipes and the like; and per database connection
/// ([`FILES_PER_DATABASE_CONNECTION`]) on top.
pub const RESERVED_FILES: u64 = 64;

/// The files one database connection may hold: SQLite's database, its log, its shared
/// memory and the write lock file (a PostgreSQL connection holds one).
pub const FILES_PER_DATABASE_CONNECTION: u64 = 4;

/// At most one log line per limit per this long about refused connections (a flood of them
/// would otherwise be a flood of lines).
const LOG_EVERY: Duration = Duration::from_secs(10);

/// The connections open, in all and by peer.
#[derive(Default)]
struct Counts {
    total: usize,
    by_peer: HashMap<IpAddr, usize>,
}

/// One limit: its bound, how many connections it closed, when it last said so.
struct Limit {
    max: usize,
    refused: AtomicU64,
    last_logged: Mutex<Option<Instant>>,
}

impl Limit {
    fn new(max: usize) -> Self {
        Limit {
            max,
            refused: AtomicU64::new(0),
            last_logged: Mutex::new(None),
        }
    }

    /// Counts a refusal; whether to log it (at most once per [`LOG_EVERY`]).
    fn refused(&self) -> bool {
        self.refused.fetch_add(1, Ordering::Relaxed);
        let mut last = self.last_logged.lock().unwrap_or_else(|e| e.into_inner());
        let log = last.is_none_or(|at| at.elapsed() >= LOG_EVERY);
        if log {
            *last = Some(Instant::now());
        }
        log
    }
}

/// The service's connection limits and counts (see the [module](self)).
pub struct Connections {
    total: Limit,
    per_peer: Limit,
    counts: Mutex<Counts>,
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
            total: Limit::new(max_total),
            per_peer: Limit::new(max_per_peer),
            counts: Mutex::default(),
        })
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        // The counts are whole between statements: a panic elsewhere leaves them usable.
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a new connection from `peer` (`None`: a unix socket) as open, unless that
    /// would pass a limit.
    pub fn admit(self: &Arc<Self>, peer: Option<IpAddr>) -> Result<Admitted, Refused> {
        let peer = peer.map(|ip| ip.to_canonical());
        let mut counts = self.counts();
        if counts.total >= self.total.max {
            drop(counts);
            if self.total.refused() {
                eprintln!(
                    "otpgate serve: the service holds {} connections (--max-connections): \
                     closing new ones, at most one such line per {} s, every one counted in \
                     otpgate_connections_refused_total",
                    self.total.max,
                    LOG_EVERY.as_secs()
                );
            }
            return Err(Refused::Total);
        }
        if let Some(ip) = peer
            && counts.by_peer.get(&ip).copied().unwrap_or(0) >= self.per_peer.max
        {
            drop(counts);
            if self.per_peer.refused() {
                eprintln!(
                    "otpgate serve: {ip} holds {} connections (--max-connections-per-peer): \
                     closing its new ones, at most one such line per {} s, every one counted \
                     in otpgate_connections_refused_total",
                    self.per_peer.max,
                    LOG_EVERY.as_secs()
                );
            }
            return Err(Refused::PerPeer);
        }
        counts.total = counts.total.saturating_add(1);
        if let Some(ip) = peer {
            let count = counts.by_peer.entry(ip).or_insert(0);
            *count = count.saturating_add(1);
        }
        Ok(Admitted {
            connections: Arc::clone(self),
            peer,
        })
    }

    /// The counts in Prometheus' text format.
    pub fn render(&self, out: &mut String) {
        let open = self.counts().total;
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
            self.per_peer.refused.load(Ordering::Relaxed),
            self.total.refused.load(Ordering::Relaxed),
        );
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut counts = self.connections.counts();
        counts.total = counts.total.saturating_sub(1);
        if let Some(ip) = self.peer
            && let Some(count) = counts.by_peer.get_mut(&ip)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.by_peer.remove(&ip);
            }
        }
    }
}

/// The files kept free for `database_connections`: [`RESERVED_FILES`] and
/// [`FILES_PER_DATABASE_CONNECTION`] each.
pub fn reserved_files(database_connections: usize) -> u64 {
    let per_connection = u64::try_from(database_connections)
        .unwrap_or(u64::MAX)
        .saturating_mul(FILES_PER_DATABASE_CONNECTION);
    RESERVED_FILES.saturating_add(per_connection)
}

/// `--max-connections`, bounded by what the open files limit leaves after `reserved`
/// files: past it, `accept` itself would fail, and so would opening the database.
pub fn bounded_total(requested: usize, open_files_limit: u64, reserved: u64) -> usize {
    let available = open_files_limit.saturating_sub(reserved).max(1);
    requested.min(usize::try_from(available).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    const A: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    const B: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));

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
    fn an_ipv6_peer_is_its_address_and_a_mapped_ipv4_peer_its_ipv4_address() {
        let connections = Connections::new(10, 1);
        let host = |last| {
            Some(IpAddr::V6(Ipv6Addr::new(
                0x2001, 0xdb8, 0, 1, 0, 0, 0, last,
            )))
        };
        let _first = connections.admit(host(1)).unwrap();
        assert_eq!(connections.admit(host(1)).err(), Some(Refused::PerPeer));
        let _neighbour = connections.admit(host(2)).unwrap();
        let _a = connections.admit(A).unwrap();
        let mapped = IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001));
        assert_eq!(
            connections.admit(Some(mapped)).err(),
            Some(Refused::PerPeer)
        );
    }

    #[test]
    fn the_total_leaves_files_for_the_database() {
        assert_eq!(reserved_files(4), 80);
        assert_eq!(bounded_total(4096, 1024, reserved_files(4)), 944);
        assert_eq!(bounded_total(4096, 1 << 20, reserved_files(256)), 4096);
        assert_eq!(bounded_total(4096, 10, reserved_files(4)), 1);
    }
}
