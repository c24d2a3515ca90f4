//! An in-memory [`MetadataStore`] for tests and examples, with the same semantics as the
//! DynamoDB adapter (conditional creates, compare-and-swap updates, atomic counters) and
//! an outage switch to check how store failures surface.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::store::{Item, MetadataStore, ServiceError, ServiceResult};

/// The whole table in a map, keyed by (pk, sk).
#[derive(Debug, Default)]
pub struct MemoryStore {
    items: Mutex<BTreeMap<(String, String), Item>>,
    counters: Mutex<BTreeMap<(String, String), u64>>,
    down: AtomicBool,
}

impl MemoryStore {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every later call fail (`true`) or succeed again (`false`).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// How many items (counters excluded) the table holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the table holds no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check(&self, operation: &str) -> ServiceResult<()> {
        if self.down.load(Ordering::SeqCst) {
            Err(ServiceError {
                operation: format!("memory:{operation}"),
                code: Some("ServiceUnavailable".into()),
                message: "the in-memory store is switched off".into(),
            })
        } else {
            Ok(())
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), Item>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn key(pk: &str, sk: &str) -> (String, String) {
    (pk.to_string(), sk.to_string())
}

impl MetadataStore for MemoryStore {
    async fn get(&self, pk: &str, sk: &str) -> ServiceResult<Option<Item>> {
        self.check("get")?;
        Ok(self.lock().get(&key(pk, sk)).cloned())
    }

    async fn query(&self, pk: &str, sk_prefix: &str) -> ServiceResult<Vec<Item>> {
        self.check("query")?;
        let items = self.lock();
        Ok(items
            .range(key(pk, sk_prefix)..)
            .take_while(|((p, s), _)| p == pk && s.starts_with(sk_prefix))
            .map(|(_, item)| item.clone())
            .collect())
    }

    async fn create(&self, item: Item) -> ServiceResult<bool> {
        self.check("create")?;
        let mut items = self.lock();
        let k = key(&item.pk, &item.sk);
        if items.contains_key(&k) {
            return Ok(false);
        }
        items.insert(k, item);
        Ok(true)
    }

    async fn update(&self, pk: &str, sk: &str, body: String, rev: u64) -> ServiceResult<bool> {
        self.check("update")?;
        let mut items = self.lock();
        match items.get_mut(&key(pk, sk)) {
            Some(item) if item.rev == rev => {
                item.body = body;
                item.rev += 1;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn heartbeat(&self, pk: &str, sk: &str, at: i64) -> ServiceResult<bool> {
        self.check("heartbeat")?;
        let mut items = self.lock();
        match items.get_mut(&key(pk, sk)) {
            Some(item) => {
                item.heartbeat = Some(at);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn next_ids(&self, pk: &str, sk: &str, count: u64) -> ServiceResult<u64> {
        self.check("next_ids")?;
        let mut counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        let value = counters.entry(key(pk, sk)).or_insert(0);
        *value += count.max(1);
        Ok(*value)
    }
}
