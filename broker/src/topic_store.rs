//! Durable topic metadata: one small JSON file per topic under `<data>/topics/`, written
//! atomically (temp file, fsync, rename, fsync of the directory), so a crash leaves either the
//! old or the new version.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::topic_config::TopicConfig;

/// What is stored about a topic besides its logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicRecord {
    /// The topic's name.
    pub name: String,
    /// Its id, stable across restarts.
    pub id: Uuid,
    /// Number of partitions.
    pub partitions: i32,
    /// Its settings.
    pub config: TopicConfig,
}

/// Why topic metadata could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TopicStoreError {
    /// A file operation failed.
    #[error("topic metadata I/O on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A metadata file does not parse.
    #[error("corrupt topic metadata in {path}: {source}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TopicStoreError + '_ {
    move |source| TopicStoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The directory of topic metadata files.
#[derive(Debug)]
pub struct TopicStore {
    dir: PathBuf,
}

impl TopicStore {
    /// Opens (creating if needed) `<data>/topics`.
    pub fn open(data_dir: &Path) -> Result<Self, TopicStoreError> {
        let dir = data_dir.join("topics");
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(Self { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// Every stored topic.
    pub fn load_all(&self) -> Result<Vec<TopicRecord>, TopicStoreError> {
        let mut records = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let path = entry.map_err(io(&self.dir))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let text = fs::read(&path).map_err(io(&path))?;
            let record =
                serde_json::from_slice(&text).map_err(|source| TopicStoreError::Corrupt {
                    path: path.clone(),
                    source,
                })?;
            records.push(record);
        }
        Ok(records)
    }

    /// Writes a topic's record, replacing any previous one atomically.
    pub fn save(&self, record: &TopicRecord) -> Result<(), TopicStoreError> {
        let path = self.path(&record.name);
        let tmp = path.with_extension("json.tmp");
        let text =
            serde_json::to_vec_pretty(record).map_err(|source| TopicStoreError::Corrupt {
                path: path.clone(),
                source,
            })?;
        let mut file = File::create(&tmp).map_err(io(&tmp))?;
        file.write_all(&text).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        fs::rename(&tmp, &path).map_err(io(&path))?;
        self.sync_dir()
    }

    /// Removes a topic's record.
    pub fn remove(&self, name: &str) -> Result<(), TopicStoreError> {
        let path = self.path(name);
        match fs::remove_file(&path) {
            Ok(()) => self.sync_dir(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&path)(e)),
        }
    }

    fn sync_dir(&self) -> Result<(), TopicStoreError> {
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_loads_and_removes() {
        let dir = tempfile::tempdir().unwrap();
        let store = TopicStore::open(dir.path()).unwrap();
        let record = TopicRecord {
            name: "orders".into(),
            id: Uuid::new_v4(),
            partitions: 3,
            config: TopicConfig::from_overrides([("retention.ms", "1000")]).unwrap(),
        };
        store.save(&record).unwrap();
        assert_eq!(store.load_all().unwrap(), vec![record.clone()]);
        store.remove("orders").unwrap();
        assert!(store.load_all().unwrap().is_empty());
    }
}
