//! The PostgreSQL tests' shared helpers: the server from `OTPGATE_TEST_POSTGRES_URL`, a
//! schema of its own per test ([`Db`]), deploy runners ([`Runner`]) and clusters of a test's
//! own ([`Cluster`], tests/postgres/server.sh). Included with `#[path]` by the PostgreSQL
//! test files only.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use otpcore::Totp;
use otpgate::ServerKey;
use postgres::config::Host;
use postgres::{Client, Config, NoTls};

use crate::gate_support::{BIN, Run, phone};
use crate::support;

pub const URL_VAR: &str = "OTPGATE_TEST_POSTGRES_URL";
pub const START: &str =
    "export OTPGATE_TEST_POSTGRES_URL=$(tests/postgres/server.sh start \"$(mktemp -d)\")";
pub const SERVER_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/postgres/server.sh");

pub fn server_url() -> Option<String> {
    support::service_url(URL_VAR, "a PostgreSQL server", START)
}

pub fn unique(name: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{name}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A schema of its own in the test database, dropped at the end, and the server key the
/// runners share.
pub struct Db {
    pub admin: String,
    pub schema: String,
    pub key_hex: String,
}

impl Db {
    pub fn new(admin: &str, name: &str) -> Db {
        let schema = unique(name);
        let mut client = Client::connect(admin, NoTls).unwrap();
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .unwrap();
        Db {
            admin: admin.to_owned(),
            schema,
            key_hex: ServerKey::generate().unwrap().to_hex().to_string(),
        }
    }

    /// The URL of this schema for `user` (the admin URL's user when `None`), over TCP or
    /// over the server's unix socket.
    pub fn url(&self, user: Option<&str>, socket: bool) -> String {
        let config = Config::from_str(&self.admin).unwrap();
        let user = user.or(config.get_user()).unwrap_or("postgres");
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let db = config.get_dbname().unwrap_or("postgres");
        let host = if socket {
            let dir = self.sql_one("SHOW unix_socket_directories");
            let dir = dir.split(',').next().unwrap().trim().to_owned();
            assert!(
                Path::new(&dir).join(format!(".s.PGSQL.{port}")).exists(),
                "the server's socket is not on this machine: {dir}"
            );
            dir.replace('/', "%2F")
        } else {
            match config.get_hosts().first() {
                Some(Host::Tcp(host)) => host.clone(),
                other => panic!("the test URL names no TCP host: {other:?}"),
            }
        };
        format!(
            "postgresql://{user}@{host}:{port}/{db}?sslmode=disable&options=-c%20search_path%3D{}",
            self.schema
        )
    }

    pub fn admin(&self) -> Client {
        let mut client = Client::connect(&self.admin, NoTls).unwrap();
        client
            .batch_execute(&format!("SET search_path = {}", self.schema))
            .unwrap();
        client
    }

    pub fn sql_one(&self, query: &str) -> String {
        self.admin()
            .simple_query(query)
            .unwrap()
            .iter()
            .find_map(|m| match m {
                postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// A runner: a directory of its own with its copy of the server key.
    pub fn runner(&self, name: &str, url: String, via_env: bool) -> Runner {
        let dir = std::env::temp_dir().join(unique(&format!("otpgate-pg-{name}")));
        std::fs::create_dir_all(&dir).unwrap();
        let key_file = dir.join("gate.key");
        std::fs::write(&key_file, &self.key_hex).unwrap();
        // A key file must be private to be read.
        std::fs::set_permissions(
            &key_file,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        Runner {
            dir,
            url,
            key_file,
            via_env,
        }
    }

    /// The outcomes of `event` in `user`'s audit trail, oldest first.
    pub fn outcomes(&self, user: &str, event: &str) -> Vec<String> {
        self.admin()
            .query(
                "SELECT outcome FROM audit WHERE \"user\" = $1 AND event = $2 ORDER BY id",
                &[&user, &event],
            )
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Ok(mut client) = Client::connect(&self.admin, NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema));
        }
    }
}

/// A deploy runner: its own working directory, key file and way of naming the database.
pub struct Runner {
    pub dir: PathBuf,
    pub url: String,
    pub key_file: PathBuf,
    pub via_env: bool,
}

impl Runner {
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(&self.dir)
            .env_remove("OTPGATE_DB")
            .env_remove("OTPGATE_KEY_FILE")
            .stdin(Stdio::null());
        if self.via_env {
            cmd.env("OTPGATE_DB", &self.url)
                .env("OTPGATE_KEY_FILE", &self.key_file);
        } else {
            cmd.arg("--db")
                .arg(&self.url)
                .arg("--key-file")
                .arg(&self.key_file);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.command().args(args).output().unwrap().into()
    }

    pub fn enroll(&self, user: &str) -> Totp {
        let run = self.run(&["--json", "enroll", user]);
        assert_eq!(run.code, Some(0), "{run:?}");
        phone(run.json()["secret"].as_str().unwrap())
    }

    /// Enrolls and confirms `user` with the previous step's code, so the current step's
    /// code is fresh for a check (see [`crate::gate_support::activate_with`]: immune to step
    /// boundaries).
    pub fn activate(&self, user: &str) -> Totp {
        crate::gate_support::activate_with(|args| self.run(args), user, &[]).0
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A cluster of the fault test's own, stopped when dropped.
pub struct Cluster {
    pub dir: PathBuf,
}

impl Cluster {
    /// Whether a cluster of the test's own can run here: the PostgreSQL tests are on (the
    /// URL is set) and the server binaries are installed.
    pub fn available() -> bool {
        server_url().is_some()
            && support::tool_available(
                "the PostgreSQL server binaries",
                Command::new("bash").arg(SERVER_SH).arg("available"),
                "apt-get install postgresql",
            )
    }

    /// A new cluster in a directory of its own, and its URL.
    pub fn new(name: &str, tls: bool) -> (Cluster, String) {
        let dir = std::env::temp_dir().join(unique(name));
        std::fs::create_dir_all(&dir).unwrap();
        let url = Cluster::start(&dir, tls);
        (Cluster { dir }, url)
    }

    pub fn start(dir: &Path, tls: bool) -> String {
        let out = Command::new("bash")
            .arg(SERVER_SH)
            .arg("start")
            .arg(dir)
            .args(tls.then_some("tls"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    pub fn stop(&self, mode: &str) {
        let out = Command::new("bash")
            .arg(SERVER_SH)
            .args(["stop"])
            .arg(&self.dir)
            .arg(mode)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(SERVER_SH)
            .args(["stop"])
            .arg(&self.dir)
            .arg("immediate")
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits until every session named in `names` waits for a lock.
pub fn wait_until_waiting(admin: &mut Client, names: &[&str]) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let started = Instant::now();
    loop {
        let waiting: i64 = admin
            .query_one(
                "SELECT count(DISTINCT application_name) FROM pg_stat_activity
                 WHERE application_name = ANY($1) AND wait_event_type = 'Lock'",
                &[&names],
            )
            .unwrap()
            .get(0);
        if waiting == names.len() as i64 {
            return;
        }
        // Under the lock timeout (5 s), which would end the waits.
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{names:?}: only {waiting} wait for a lock"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}
