//! A full disk: appends fail with an I/O error, leave no torn batch in the file and nothing
//! visible to readers, and work again once space is freed; a reopen finds exactly the
//! acknowledged batches. Runs on a small tmpfs the test mounts, so it needs root: without it
//! the test says why and passes, unless `CI` is set (CI runs as root), where it fails.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{all_batches, nth_batch, opts, stored};
use fjord_storage::{AppendError, Log, LogConfig};

/// A tmpfs mounted for the test, lazily unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Result<Self, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if out.status.success() {
            Ok(Self(path.to_path_buf()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_fails_appends_cleanly_and_recovers() {
    let root = tempfile::tempdir().unwrap();
    let mount = match Tmpfs::mount(root.path(), "1m") {
        Ok(m) => m,
        Err(why) if std::env::var_os("CI").is_some() => panic!("cannot mount a tmpfs: {why}"),
        Err(why) => {
            eprintln!("SKIPPED: cannot mount a tmpfs ({why}); needs root");
            return;
        }
    };
    let dir = mount.0.join("log");
    std::fs::create_dir(&dir).unwrap();
    let filler = mount.0.join("filler");
    std::fs::write(&filler, vec![0u8; 256 * 1024]).unwrap();
    let config = LogConfig {
        segment_bytes: 64 * 1024 * 1024,
        index_interval_bytes: 64,
        ..LogConfig::default()
    };
    let log = Log::open(&dir, config.clone()).unwrap();
    let segment = dir.join(format!("{:020}.log", 0));
    let mut acked = Vec::new();
    let mut failures = 0;
    // Large batches, so the failing one is likely cut in the middle of a write.
    let big = |i: u64| {
        fjord_storage::testing::BatchSpec::new(i as i64)
            .filler(4, 3000 + (i % 7) as usize * 100, i as u8)
            .build()
    };
    for i in 0..2_000u64 {
        let end = log.log_end_offset();
        match log.append(&big(i), &opts(0)) {
            Ok(info) => acked.push(stored(big(i), info.base_offset, 1)),
            Err(AppendError::Io(e)) => {
                failures += 1;
                assert_eq!(
                    log.log_end_offset(),
                    end,
                    "a failed append moved the log end"
                );
                let on_disk = std::fs::metadata(&segment).unwrap().len();
                assert_eq!(
                    on_disk,
                    log.size_bytes(),
                    "a failed append left a torn tail: {e}"
                );
                if failures == 3 {
                    break;
                }
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(failures, 3, "1 MiB never filled up");
    assert_eq!(
        all_batches(&log),
        acked,
        "readers see exactly the acknowledged batches"
    );
    std::fs::remove_file(&filler).unwrap();
    for i in 0..10u64 {
        let batch = nth_batch(i);
        let info = log.append(&batch, &opts(0)).unwrap();
        acked.push(stored(nth_batch(i), info.base_offset, 1));
    }
    // No clean close: reopen as after a crash.
    drop(log);
    let log = Log::open(&dir, config).unwrap();
    assert_eq!(all_batches(&log), acked, "after reopening");
}
