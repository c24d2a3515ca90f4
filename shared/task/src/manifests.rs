//! Deployment manifests by URL, read once per warm Lambda: a manifest is immutable for
//! its version (its URL names the version).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::datastore::Datastore;
use super::error::{TaskError, TaskResult};
use dropflow_contract::Manifest;

/// More manifests than this in one warm Lambda: start over (they are re-read on demand).
const MAX_CACHED: usize = 64;

/// Manifests read so far.
#[derive(Debug, Default)]
pub struct ManifestCache {
    manifests: Mutex<HashMap<String, Arc<Manifest>>>,
}

impl ManifestCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The manifest at `url`, read from `store` the first time.
    pub async fn load<D: Datastore>(&self, store: &D, url: &str) -> TaskResult<Arc<Manifest>> {
        if let Some(manifest) = self.lock().get(url) {
            return Ok(Arc::clone(manifest));
        }
        let bytes = store
            .get(url)
            .await?
            .ok_or_else(|| TaskError::ManifestNotFound(url.to_string()))?;
        let manifest = Manifest::from_json(&bytes).map_err(|e| TaskError::InvalidManifest {
            uri: url.to_string(),
            message: e.to_string(),
        })?;
        let manifest = Arc::new(manifest);
        let mut cache = self.lock();
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(url.to_string(), Arc::clone(&manifest));
        Ok(manifest)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Manifest>>> {
        self.manifests.lock().unwrap_or_else(|p| p.into_inner())
    }
}
