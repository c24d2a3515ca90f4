//! In-memory implementations of the [`super::ports`] traits: a bucket, Step Functions,
//! Batch and EventBridge Scheduler that live in a `Mutex`, record every write in a shared
//! [`Log`], and can be told to fail an operation. For unit tests of the deploy logic and
//! of the Lambdas built on it. Bucket and Step Functions calls yield once before they act,
//! so an executor that polls several handlers can interleave them at every call.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::claim::yield_once;
use super::ports::{
    AliasPointed, ConditionalPutError, JobDefinitions, ObjectHead, ObjectStore, Precondition,
    Published, ScheduleSpec, Schedules, ServiceError, ServiceResult, StateMachineInfo,
    StateMachineSpec, StateMachines, StoredObject,
};
use super::{Config, Deployer};
use dropflow_compiler::compile::JobDefinition;

/// Every write made through the fakes (`s3:put key`, `sfn:publish name`, ...), in order,
/// and the operation to fail, if any.
#[derive(Debug, Clone, Default)]
pub struct Log {
    inner: Arc<Mutex<LogInner>>,
}

#[derive(Debug, Default)]
struct LogInner {
    writes: Vec<String>,
    fail: Option<String>,
}

impl Log {
    /// The writes so far.
    pub fn writes(&self) -> Vec<String> {
        self.lock().writes.clone()
    }

    /// Forgets the writes so far.
    pub fn clear(&self) {
        self.lock().writes.clear();
    }

    /// Makes every later operation whose name starts with `operation` fail
    /// (`"sfn:point_alias"`, `"s3:put deployments/"`); `None` stops failing.
    pub fn fail(&self, operation: Option<&str>) {
        self.lock().fail = operation.map(String::from);
    }

    fn lock(&self) -> MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks the failure switch, then records `operation` when it is a write.
    fn call(&self, operation: String, write: bool) -> ServiceResult<()> {
        let mut inner = self.lock();
        if let Some(fail) = &inner.fail
            && operation.starts_with(fail.as_str())
        {
            return Err(ServiceError {
                operation,
                code: Some("InjectedFailure".into()),
                message: "the test asked this call to fail".into(),
            });
        }
        if write {
            inner.writes.push(operation);
        }
        Ok(())
    }
}

/// A deployer over fresh in-memory services sharing one [`Log`].
pub type MemoryDeployer =
    Deployer<MemoryObjects, MemoryStateMachines, MemoryJobDefinitions, MemorySchedules>;

/// A [`MemoryDeployer`] for `config`, and its log.
pub fn deployer(config: Config) -> (MemoryDeployer, Log) {
    let log = Log::default();
    let deployer = Deployer::new(
        config,
        MemoryObjects::new(log.clone()),
        MemoryStateMachines::new(log.clone()),
        MemoryJobDefinitions::new(log.clone()),
        MemorySchedules::new(log.clone()),
    );
    (deployer, log)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// An in-memory bucket with versioning.
#[derive(Debug, Default)]
pub struct MemoryObjects {
    log: Log,
    objects: Mutex<BTreeMap<String, Vec<StoredObject>>>,
    counter: std::sync::atomic::AtomicU64,
}

/// The entity tag of one stored version (unique per key and version, as S3's differ
/// whenever the content or the write does).
fn etag_of(key: &str, version_id: &str) -> String {
    format!("\"{key}#{version_id}\"")
}

impl MemoryObjects {
    /// An empty bucket.
    pub fn new(log: Log) -> Self {
        Self {
            log,
            objects: Mutex::default(),
            counter: std::sync::atomic::AtomicU64::new(1_000),
        }
    }

    /// Uploads `bytes` with `metadata` as a user would (not logged); returns the version id.
    pub fn upload(&self, key: &str, bytes: &[u8], metadata: &[(&str, &str)]) -> String {
        let mut objects = lock(&self.objects);
        let versions = objects.entry(key.to_string()).or_default();
        let version_id = format!("v{}", versions.len() + 1);
        versions.push(StoredObject {
            etag: Some(etag_of(key, &version_id)),
            bytes: bytes.to_vec(),
            metadata: metadata
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            version_id: Some(version_id.clone()),
        });
        version_id
    }

    /// Writes a new version of `key` when `precondition` (if any) holds, atomically under
    /// the bucket's lock, as S3 applies a conditional `PutObject`; returns its etag.
    fn write(
        &self,
        key: &str,
        bytes: Vec<u8>,
        precondition: Option<&Precondition>,
    ) -> Result<String, ConditionalPutError> {
        let mut objects = lock(&self.objects);
        let current = objects
            .get(key)
            .and_then(|v| v.last())
            .and_then(|o| o.etag.clone());
        match (precondition, &current) {
            (Some(Precondition::Absent), Some(_)) => {
                return Err(ConditionalPutError::PreconditionFailed { key: key.into() });
            }
            (Some(Precondition::Matches(expected)), current)
                if current.as_deref() != Some(expected.as_str()) =>
            {
                return Err(ConditionalPutError::PreconditionFailed { key: key.into() });
            }
            _ => {}
        }
        let versions = objects.entry(key.to_string()).or_default();
        let version_id = format!("v{}", self.next_version());
        let etag = etag_of(key, &version_id);
        versions.push(StoredObject {
            bytes,
            metadata: BTreeMap::new(),
            version_id: Some(version_id),
            etag: Some(etag.clone()),
        });
        Ok(etag)
    }

    /// A bucket-wide counter, so a key deleted and written again never repeats an etag.
    fn next_version(&self) -> u64 {
        use std::sync::atomic::Ordering;
        self.counter.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The current bytes of `key`.
    pub fn bytes(&self, key: &str) -> Option<Vec<u8>> {
        lock(&self.objects)
            .get(key)
            .and_then(|v| v.last())
            .map(|o| o.bytes.clone())
    }

    /// The current content of `key` as JSON.
    pub fn json(&self, key: &str) -> Option<serde_json::Value> {
        self.bytes(key)
            .map(|b| serde_json::from_slice(&b).expect("stored JSON"))
    }

    /// Every key, sorted.
    pub fn keys(&self) -> Vec<String> {
        lock(&self.objects).keys().cloned().collect()
    }
}

impl ObjectStore for MemoryObjects {
    async fn get(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> ServiceResult<Option<StoredObject>> {
        yield_once().await; // each call is a point where other tasks may run
        self.log.call(format!("s3:get {key}"), false)?;
        let objects = lock(&self.objects);
        let Some(versions) = objects.get(key) else {
            return Ok(None);
        };
        Ok(match version_id {
            Some(id) => versions
                .iter()
                .find(|o| o.version_id.as_deref() == Some(id))
                .cloned(),
            None => versions.last().cloned(),
        })
    }

    async fn head(&self, key: &str) -> ServiceResult<Option<ObjectHead>> {
        yield_once().await; // each call is a point where other tasks may run
        self.log.call(format!("s3:head {key}"), false)?;
        Ok(lock(&self.objects)
            .get(key)
            .and_then(|v| v.last())
            .map(|o| ObjectHead {
                size: o.bytes.len() as u64,
                version_id: o.version_id.clone(),
            }))
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, _content_type: &str) -> ServiceResult<()> {
        yield_once().await; // each call is a point where other tasks may run
        self.log.call(format!("s3:put {key}"), true)?;
        match self.write(key, bytes, None) {
            Ok(_) => Ok(()),
            Err(ConditionalPutError::Service(error)) => Err(error),
            Err(ConditionalPutError::PreconditionFailed { .. }) => {
                unreachable!("an unconditional write has no precondition")
            }
        }
    }

    async fn put_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        _content_type: &str,
        precondition: &Precondition,
    ) -> Result<String, ConditionalPutError> {
        yield_once().await; // each call is a point where other tasks may run
        self.log.call(format!("s3:put {key}"), true)?;
        self.write(key, bytes, Some(precondition))
    }

    async fn delete(&self, key: &str) -> ServiceResult<()> {
        yield_once().await; // each call is a point where other tasks may run
        self.log.call(format!("s3:delete {key}"), true)?;
        lock(&self.objects).remove(key);
        Ok(())
    }
}

/// One in-memory state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryStateMachine {
    /// Its ARN.
    pub arn: String,
    /// Current definition.
    pub definition: String,
    /// Role.
    pub role_arn: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Published versions' definitions, version 1 first.
    pub versions: Vec<String>,
    /// Alias name → version ARN.
    pub aliases: BTreeMap<String, String>,
}

/// In-memory Step Functions.
#[derive(Debug, Default)]
pub struct MemoryStateMachines {
    log: Log,
    machines: Mutex<BTreeMap<String, MemoryStateMachine>>,
}

impl MemoryStateMachines {
    /// No state machines.
    pub fn new(log: Log) -> Self {
        Self {
            log,
            machines: Mutex::default(),
        }
    }

    /// The state machine named `name`.
    pub fn get(&self, name: &str) -> Option<MemoryStateMachine> {
        lock(&self.machines).get(name).cloned()
    }
}

const ARN_PREFIX: &str = "arn:aws:states:us-east-1:000000000000:stateMachine:";

impl StateMachines for MemoryStateMachines {
    async fn publish(&self, spec: &StateMachineSpec) -> ServiceResult<Published> {
        yield_once().await; // each call is a point where other tasks may run
        self.log.call(format!("sfn:publish {}", spec.name), true)?;
        let mut machines = lock(&self.machines);
        let created = !machines.contains_key(&spec.name);
        let machine = machines
            .entry(spec.name.clone())
            .or_insert_with(|| MemoryStateMachine {
                arn: format!("{ARN_PREFIX}{}", spec.name),
                definition: String::new(),
                role_arn: String::new(),
                tags: BTreeMap::new(),
                versions: Vec::new(),
                aliases: BTreeMap::new(),
            });
        machine.definition = spec.definition.clone();
        machine.role_arn = spec.role_arn.clone();
        machine.tags.extend(spec.tags.clone());
        // Step Functions returns the latest version when nothing changed since it.
        if machine.versions.last() != Some(&spec.definition) {
            machine.versions.push(spec.definition.clone());
        }
        Ok(Published {
            state_machine_arn: machine.arn.clone(),
            version_arn: format!("{}:{}", machine.arn, machine.versions.len()),
            created,
        })
    }

    async fn point_alias(
        &self,
        state_machine_arn: &str,
        alias: &str,
        version_arn: &str,
    ) -> ServiceResult<AliasPointed> {
        yield_once().await; // each call is a point where other tasks may run
        self.log
            .call(format!("sfn:point_alias {alias} {version_arn}"), true)?;
        let mut machines = lock(&self.machines);
        let machine = machines
            .values_mut()
            .find(|m| m.arn == state_machine_arn)
            .ok_or_else(|| ServiceError::new("sfn:point_alias", "no such state machine"))?;
        let created = machine
            .aliases
            .insert(alias.to_string(), version_arn.to_string())
            .is_none();
        Ok(AliasPointed {
            alias_arn: format!("{state_machine_arn}:{alias}"),
            created,
        })
    }

    async fn describe(&self, name: &str) -> ServiceResult<Option<StateMachineInfo>> {
        self.log.call(format!("sfn:describe {name}"), false)?;
        Ok(lock(&self.machines).get(name).map(|m| StateMachineInfo {
            arn: m.arn.clone(),
            definition: m.definition.clone(),
            role_arn: m.role_arn.clone(),
            tags: m.tags.clone(),
        }))
    }

    async fn delete(&self, name: &str, _aliases: &[&str]) -> ServiceResult<bool> {
        self.log.call(format!("sfn:delete {name}"), true)?;
        Ok(lock(&self.machines).remove(name).is_some())
    }
}

/// In-memory Batch job definitions.
#[derive(Debug, Default)]
pub struct MemoryJobDefinitions {
    log: Log,
    definitions: Mutex<BTreeMap<String, Vec<JobDefinition>>>,
}

impl MemoryJobDefinitions {
    /// No job definitions.
    pub fn new(log: Log) -> Self {
        Self {
            log,
            definitions: Mutex::default(),
        }
    }

    /// Names registered, sorted.
    pub fn names(&self) -> Vec<String> {
        lock(&self.definitions).keys().cloned().collect()
    }
}

impl JobDefinitions for MemoryJobDefinitions {
    async fn is_active(&self, name: &str) -> ServiceResult<bool> {
        self.log.call(format!("batch:is_active {name}"), false)?;
        Ok(lock(&self.definitions).contains_key(name))
    }

    async fn register(&self, definition: &JobDefinition) -> ServiceResult<String> {
        let name = &definition.job_definition_name;
        self.log.call(format!("batch:register {name}"), true)?;
        let mut definitions = lock(&self.definitions);
        let revisions = definitions.entry(name.clone()).or_default();
        revisions.push(definition.clone());
        Ok(format!(
            "arn:aws:batch:us-east-1:000000000000:job-definition/{name}:{}",
            revisions.len()
        ))
    }
}

/// In-memory EventBridge Scheduler.
#[derive(Debug, Default)]
pub struct MemorySchedules {
    log: Log,
    schedules: Mutex<BTreeMap<String, ScheduleSpec>>,
}

impl MemorySchedules {
    /// No schedules.
    pub fn new(log: Log) -> Self {
        Self {
            log,
            schedules: Mutex::default(),
        }
    }

    /// The schedule named `name`.
    pub fn schedule(&self, name: &str) -> Option<ScheduleSpec> {
        lock(&self.schedules).get(name).cloned()
    }

    /// Every schedule name.
    pub fn names(&self) -> Vec<String> {
        lock(&self.schedules).keys().cloned().collect()
    }
}

impl Schedules for MemorySchedules {
    async fn get(&self, name: &str) -> ServiceResult<Option<ScheduleSpec>> {
        self.log.call(format!("scheduler:get {name}"), false)?;
        Ok(lock(&self.schedules).get(name).cloned())
    }

    async fn create(&self, spec: &ScheduleSpec) -> ServiceResult<()> {
        self.log
            .call(format!("scheduler:create {}", spec.name), true)?;
        let mut schedules = lock(&self.schedules);
        if schedules.contains_key(&spec.name) {
            return Err(ServiceError::new("scheduler:create", "ConflictException"));
        }
        schedules.insert(spec.name.clone(), spec.clone());
        Ok(())
    }

    async fn update(&self, spec: &ScheduleSpec) -> ServiceResult<()> {
        self.log
            .call(format!("scheduler:update {}", spec.name), true)?;
        let mut schedules = lock(&self.schedules);
        match schedules.get_mut(&spec.name) {
            Some(existing) => {
                *existing = spec.clone();
                Ok(())
            }
            None => Err(ServiceError::new(
                "scheduler:update",
                "ResourceNotFoundException",
            )),
        }
    }

    async fn delete(&self, name: &str) -> ServiceResult<bool> {
        self.log.call(format!("scheduler:delete {name}"), true)?;
        Ok(lock(&self.schedules).remove(name).is_some())
    }
}
