//! One `fjord` broker process per test.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tempfile::TempDir;

/// How long a broker may take to print its `listening on` line. Generous:
/// CI machines are small and a restart may have to recover its logs.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a broker may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Poll interval while waiting for a process to exit; `Child` has no
/// wait-with-timeout.
const EXIT_POLL: Duration = Duration::from_millis(20);

/// The line prefix the broker prints on stdout once it accepts connections.
const READY_PREFIX: &str = "listening on ";

/// The `fjord` binary under test: `$FJORD_BIN`, else the debug build in
/// `$CARGO_TARGET_DIR` or the workspace's `target/`.
pub fn fjord_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("FJORD_BIN") {
        return PathBuf::from(bin);
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let bin = PathBuf::from(dir).join("debug").join("fjord");
        if bin.exists() {
            return bin;
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("debug")
        .join("fjord")
}

/// A running (or stopped) `fjord` broker with its own temporary data
/// directory. Killed on drop; if the test is failing, its stderr is printed
/// so the test output shows what the broker said.
#[derive(Debug)]
pub struct Broker {
    /// The binary, kept so a restart runs the same one.
    bin: PathBuf,
    /// Extra command-line arguments, reused on every restart.
    args: Vec<String>,
    /// Holds `data/` and `stderr.log`; removed when the broker is dropped.
    root: TempDir,
    /// The live process, if any (none after `stop` or `kill9`).
    process: Option<Running>,
    /// The last advertised address, so `bootstrap` works between restarts.
    addr: String,
    /// The `--listen` address: port 0 until [`Broker::keep_port`] pins the bound one.
    listen: String,
}

/// A live broker process.
#[derive(Debug)]
struct Running {
    /// The child process.
    child: Child,
}

impl Broker {
    /// Starts a broker with default settings.
    pub fn start() -> Broker {
        Broker::start_with(&[])
    }

    /// Starts a broker with extra arguments, e.g.
    /// `["--auto-create-topics", "false"]`.
    pub fn start_with(args: &[&str]) -> Broker {
        Broker::start_prepared(args, |_| {})
    }

    /// Starts a broker after `prepare` has seen its (empty) data directory, e.g. to mount a
    /// small file system there.
    pub fn start_prepared(args: &[&str], prepare: impl FnOnce(&Path)) -> Broker {
        let root = tempfile::Builder::new()
            .prefix("fjord-compat-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        let data = root.path().join("data");
        fs::create_dir(&data).unwrap_or_else(|e| panic!("cannot create {}: {e}", data.display()));
        prepare(&data);
        let mut broker = Broker {
            bin: fjord_bin(),
            args: args.iter().map(ToString::to_string).collect(),
            root,
            process: None,
            addr: String::new(),
            listen: "127.0.0.1:0".into(),
        };
        broker.start_again();
        broker
    }

    /// The `bootstrap.servers` value for clients: `127.0.0.1:PORT`.
    pub fn bootstrap(&self) -> String {
        self.addr.clone()
    }

    /// Makes later restarts listen on the port bound now, so clients created before a crash
    /// reconnect to the restarted broker by themselves.
    pub fn keep_port(&mut self) {
        self.listen = self.addr.clone();
    }

    /// The broker's data directory (kept across restarts).
    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// The file that collects the broker's stderr over all its runs.
    pub fn stderr_path(&self) -> PathBuf {
        self.root.path().join("stderr.log")
    }

    /// Everything the broker wrote to stderr so far (all runs).
    pub fn stderr_log(&self) -> String {
        fs::read_to_string(self.stderr_path()).unwrap_or_default()
    }

    /// The process id of the running broker, if it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|p| p.child.id())
    }

    /// Gracefully stops the broker (SIGTERM), then starts it again on the
    /// same data directory. Panics if the shutdown does not exit 0. The port
    /// may change; call [`Broker::bootstrap`] again and make new clients.
    pub fn restart(&mut self) {
        let status = self.stop();
        assert!(
            status.success(),
            "{} exited with {status} after SIGTERM (graceful shutdown must exit 0); stderr:\n{}",
            self.bin.display(),
            self.stderr_log()
        );
        self.start_again();
    }

    /// Sends SIGTERM and waits for the broker to exit. Returns its exit
    /// status; panics if it does not exit within the stop timeout.
    pub fn stop(&mut self) -> ExitStatus {
        let Some(mut running) = self.process.take() else {
            panic!("stop: the broker is not running");
        };
        signal(&running.child, Signal::SIGTERM);
        match wait_with_timeout(&mut running.child, STOP_TIMEOUT) {
            Some(status) => status,
            None => {
                // Reap the process before failing so it does not linger.
                signal(&running.child, Signal::SIGKILL);
                let _ = running.child.wait();
                panic!(
                    "{} did not exit within {STOP_TIMEOUT:?} after SIGTERM; stderr:\n{}",
                    self.bin.display(),
                    self.stderr_log()
                );
            }
        }
    }

    /// Kills the broker with SIGKILL (a crash: no shutdown code runs) and
    /// reaps it. Use [`Broker::start_again`] to recover on the same data.
    pub fn kill9(&mut self) {
        if let Some(mut running) = self.process.take() {
            signal(&running.child, Signal::SIGKILL);
            let _ = running.child.wait();
        }
    }

    /// Starts the broker on the existing data directory after `stop` or
    /// `kill9`, and waits until it is ready.
    pub fn start_again(&mut self) {
        assert!(
            self.process.is_none(),
            "start_again: the broker is already running"
        );
        if !self.bin.exists() {
            panic!(
                "fjord binary not found at {}: build it with `cargo build -p fjord-broker` \
                 or point FJORD_BIN at it",
                self.bin.display()
            );
        }
        let stderr = self.open_stderr();
        let mut child = Command::new(&self.bin)
            .arg("--listen")
            .arg(&self.listen)
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        let ready = child.stdout.take().map(watch_stdout);
        let addr = ready.and_then(|rx| rx.recv_timeout(START_TIMEOUT).ok());
        match addr {
            Some(addr) => {
                self.addr = addr;
                self.process = Some(Running { child });
            }
            None => {
                signal(&child, Signal::SIGKILL);
                let status = child
                    .wait()
                    .map_or_else(|e| e.to_string(), |s| s.to_string());
                panic!(
                    "{} {:?} did not print `{READY_PREFIX}HOST:PORT` on stdout (waited up to \
                     {START_TIMEOUT:?}; process: {status}); its stderr:\n{}",
                    self.bin.display(),
                    self.args,
                    self.stderr_log()
                );
            }
        }
    }

    /// Opens the stderr log for appending, so every run's output is kept.
    fn open_stderr(&self) -> File {
        let path = self.stderr_path();
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()))
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill9();
        // A failed start already put stderr into its panic message.
        if thread::panicking() && !self.addr.is_empty() {
            eprintln!(
                "---- fjord stderr ({}) ----\n{}---- end of fjord stderr ----",
                self.bin.display(),
                self.stderr_log()
            );
        }
    }
}

/// Reads the broker's stdout on a thread: sends the address from the first
/// `listening on` line, then keeps draining so the broker never blocks on a
/// full pipe. The channel closes if the broker exits first.
fn watch_stdout(stdout: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.strip_prefix(READY_PREFIX) {
                // The receiver is gone after the first address; later lines
                // are only drained.
                let _ = tx.send(addr.trim().to_string());
            }
        }
    });
    rx
}

/// Sends `sig` to the child; a process that already exited is not an error.
fn signal(child: &Child, sig: Signal) {
    let Ok(pid) = i32::try_from(child.id()) else {
        return;
    };
    let _ = kill(Pid::from_raw(pid), sig);
}

/// Waits for the child to exit, up to `timeout`.
fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(EXIT_POLL),
            Ok(None) | Err(_) => return None,
        }
    }
}
