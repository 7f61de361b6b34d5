//! The sled 0.34 engine.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::{Batch, KeyRange, KvIter, Store, StoreError, Tree};
use crate::metrics;

/// A sled database. Cheap to clone (sled's `Db` is reference counted).
#[derive(Clone)]
pub(crate) struct SledStore {
    db: sled::Db,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").finish_non_exhaustive()
    }
}

fn engine(e: sled::Error) -> StoreError {
    StoreError::Engine(e.to_string())
}

impl SledStore {
    /// Opens (or creates) the database at `path` with sled's periodic background flush.
    /// Durability never relies on it: callers flush explicitly.
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(sled::Config::new().path(path))
    }

    /// Opens with a caller-built sled config (tests turn the background flush off so that
    /// only explicit flushes reach the disk).
    pub(crate) fn open_with(config: sled::Config) -> Result<Self, StoreError> {
        Ok(Self { db: config.open().map_err(engine)? })
    }
}

#[async_trait::async_trait]
impl Store for SledStore {
    fn open_tree(&self, name: &str) -> Result<Arc<dyn Tree>, StoreError> {
        Ok(Arc::new(SledTree(self.db.open_tree(name).map_err(engine)?)))
    }

    async fn flush(&self, what: &'static str) -> Result<(), StoreError> {
        // Not `flush_async`: it can deadlock in sled 0.34.7.
        let db = self.db.clone();
        let started = Instant::now();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| StoreError::Join(e.to_string()))?
            .map_err(engine)?;
        metrics::STORAGE_FLUSH_DURATION.with_label_values(&[what]).observe(started.elapsed().as_secs_f64());
        Ok(())
    }
}

struct SledTree(sled::Tree);

impl Tree for SledTree {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.get(key).map_err(engine)?.map(|v| v.to_vec()))
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.0.insert(key, value).map_err(engine)?;
        Ok(())
    }

    fn remove(&self, key: &[u8]) -> Result<(), StoreError> {
        self.0.remove(key).map_err(engine)?;
        Ok(())
    }

    fn range(&self, range: KeyRange) -> KvIter<'_> {
        Box::new(self.0.range::<Vec<u8>, _>(range).map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(engine)))
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        let mut b = sled::Batch::default();
        for (key, value) in batch.ops {
            match value {
                Some(v) => b.insert(key, v),
                None => b.remove(key),
            }
        }
        self.0.apply_batch(b).map_err(engine)
    }
}
