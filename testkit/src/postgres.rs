//! A real PostgreSQL server for tests: `initdb` and `pg_ctl` (Debian's `postgresql`, which
//! the set-up installs) in a temporary folder, on a free loopback port, stopped when
//! dropped. Used by the centre-store tests and `xiaoan bench store`.
//!
//! PostgreSQL refuses to run as root; when the tests run as root (CI containers do), the
//! server runs as the `postgres` system user that Debian's package creates, through
//! `runuser`.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The superuser the cluster is made with (trust authentication, loopback only).
pub const USER: &str = "xiaoan";

/// How a test cluster is set up.
#[derive(Clone, Debug, Default)]
pub struct ClusterOptions {
    /// Flush to disk on commit. Off makes tests faster and is safe against a killed server
    /// process (not against a power cut); benches that report throughput keep it on.
    pub fsync: bool,
}

/// A running throw-away PostgreSQL cluster.
pub struct TempCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    run_as: Option<&'static str>,
    opts: ClusterOptions,
}

/// Where PostgreSQL's server programs are: `XIAOAN_PG_BIN`, then the newest
/// `/usr/lib/postgresql/<version>/bin`, then `initdb` on the `PATH`.
pub fn bin_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("XIAOAN_PG_BIN") {
        let d = PathBuf::from(d);
        return d.join("initdb").is_file().then_some(d);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, b)) = versions.pop() {
        return Some(b);
    }
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p).find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
    })
}

fn is_root() -> bool {
    // the effective uid, from /proc (no libc call needed)
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

impl TempCluster {
    /// Make and start a cluster with the default (test) options.
    pub fn start() -> Result<TempCluster, String> {
        TempCluster::start_with(ClusterOptions::default())
    }

    /// Make and start a cluster. The error says what is missing (`make setup` installs it).
    pub fn start_with(opts: ClusterOptions) -> Result<TempCluster, String> {
        let bin = bin_dir().ok_or("PostgreSQL's initdb/pg_ctl not found (run make setup)")?;
        let run_as = is_root().then_some("postgres");
        let dir = tempfile::Builder::new()
            .prefix("xiaoan-pg-")
            .tempdir()
            .map_err(|e| format!("temporary folder: {e}"))?;
        if run_as.is_some() {
            // the server's user must own its data folder and reach the socket folder
            let st = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !st.success() {
                return Err("cannot hand the data folder to the postgres user (is Debian's postgresql installed?)".into());
            }
            let _ = std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755));
        }
        let c = TempCluster {
            dir,
            bin,
            port: free_port()?,
            run_as,
            opts,
        };
        let data = c.data_dir();
        c.run(
            "initdb",
            &[
                "-D",
                path_str(&data)?,
                "-U",
                USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        c.start_server()?;
        Ok(c)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for `db` (the `postgres` database always exists).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Create a database, returning its URL.
    pub fn create_db(&self, name: &str) -> Result<String, String> {
        self.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                USER,
                name,
            ],
        )?;
        Ok(self.url(name))
    }

    fn run(&self, prog: &str, args: &[&str]) -> Result<Output, String> {
        let exe = self.bin.join(prog);
        let mut cmd = match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let out = cmd
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .map_err(|e| format!("{prog}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{prog} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(out)
    }

    fn start_server(&self) -> Result<(), String> {
        let data = self.data_dir();
        let sock = self.dir.path();
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c fsync={} -c max_connections=200",
            self.port,
            path_str(sock)?,
            if self.opts.fsync { "on" } else { "off" }
        );
        let log = self.dir.path().join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                path_str(&data)?,
                "-l",
                path_str(&log)?,
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )?;
        self.wait_ready(Duration::from_secs(30))
    }

    fn wait_ready(&self, limit: Duration) -> Result<(), String> {
        let t = Instant::now();
        loop {
            if self
                .run(
                    "pg_isready",
                    &["-h", "127.0.0.1", "-p", &self.port.to_string()],
                )
                .is_ok()
            {
                return Ok(());
            }
            if t.elapsed() > limit {
                return Err(format!("PostgreSQL did not come up within {limit:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stop the server (fast: open connections are cut) — the centre going down.
    pub fn stop(&self) -> Result<(), String> {
        self.run(
            "pg_ctl",
            &[
                "-D",
                path_str(&self.data_dir())?,
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        )
        .map(|_| ())
    }

    /// Stop the server without a checkpoint, as if its process died.
    pub fn kill(&self) -> Result<(), String> {
        self.run(
            "pg_ctl",
            &[
                "-D",
                path_str(&self.data_dir())?,
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        )
        .map(|_| ())
    }

    /// Start the server again on the same port after [`stop`](Self::stop) or [`kill`](Self::kill).
    pub fn restart(&self) -> Result<(), String> {
        self.start_server()
    }

    /// The server's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

fn path_str(p: &Path) -> Result<&str, String> {
    p.to_str()
        .ok_or_else(|| format!("not a UTF-8 path: {}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_starts_answers_stops_and_comes_back() {
        let c = match TempCluster::start() {
            Ok(c) => c,
            Err(e) => return crate::skip(&format!("postgres cluster: {e}")),
        };
        let url = c.create_db("probe").expect("createdb");
        assert!(url.ends_with("/probe"));
        let ready = |c: &TempCluster| {
            c.run(
                "pg_isready",
                &["-h", "127.0.0.1", "-p", &c.port().to_string()],
            )
            .is_ok()
        };
        assert!(ready(&c));
        c.stop().expect("stop");
        assert!(!ready(&c), "a stopped server must not answer");
        c.restart().expect("restart");
        assert!(ready(&c));
        c.kill().expect("kill");
        c.restart().expect("restart after a kill");
        assert!(ready(&c), "{}", c.log());
    }
}
