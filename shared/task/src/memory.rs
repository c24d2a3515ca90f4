//! An in-memory [`Datastore`] for tests and benchmarks, which can also load a local
//! Metaflow datastore directory (`--datastore=local`) as if it were in S3.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use super::datastore::Datastore;
use dropflow_contract::ServiceResult;

/// Objects by `s3://` URL.
#[derive(Debug, Default)]
pub struct MemoryDatastore {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryDatastore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `bytes` at `url`.
    pub fn insert(&self, url: &str, bytes: Vec<u8>) {
        self.lock().insert(url.to_string(), bytes);
    }

    /// The object at `url`.
    pub fn object(&self, url: &str) -> Option<Vec<u8>> {
        self.lock().get(url).cloned()
    }

    /// Every URL stored, in order.
    pub fn urls(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Copies every file under `dir` to `url_prefix` + its relative path (with `/`), e.g.
    /// a local Metaflow datastore root to `s3://bucket/metaflow`.
    pub fn load_dir(&self, dir: &Path, url_prefix: &str) -> std::io::Result<usize> {
        let mut count = 0;
        let mut pending = vec![dir.to_path_buf()];
        while let Some(current) = pending.pop() {
            for entry in std::fs::read_dir(&current)? {
                let path = entry?.path();
                if path.is_dir() {
                    pending.push(path);
                    continue;
                }
                let relative = path
                    .strip_prefix(dir)
                    .expect("walked below dir")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                let url = format!("{}/{relative}", url_prefix.trim_end_matches('/'));
                self.insert(&url, std::fs::read(&path)?);
                count += 1;
            }
        }
        Ok(count)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.objects.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Datastore for MemoryDatastore {
    async fn get(&self, url: &str) -> ServiceResult<Option<Vec<u8>>> {
        Ok(self.object(url))
    }

    async fn put(&self, url: &str, bytes: Vec<u8>, _content_type: &str) -> ServiceResult<()> {
        self.insert(url, bytes);
        Ok(())
    }

    async fn exists(&self, url: &str) -> ServiceResult<bool> {
        Ok(self.lock().contains_key(url))
    }

    async fn list(&self, prefix: &str) -> ServiceResult<Vec<String>> {
        Ok(self
            .lock()
            .range(prefix.to_string()..)
            .take_while(|(url, _)| url.starts_with(prefix))
            .filter_map(|(url, _)| {
                let name = &url[prefix.len()..];
                (!name.contains('/')).then(|| name.to_string())
            })
            .collect())
    }
}
