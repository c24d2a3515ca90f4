//! A running local stack: the emulator, the Invoke API hosting the functions, the trigger
//! API's address, the metadata service (on the emulator's DynamoDB), the bucket and Batch
//! queue, and the endpoints file that tells clients where they are.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_config::SdkConfig;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::bootstrap;
use super::emulator::{self, Emulator};
use super::error::LocalError;
use super::functions;
use super::options::{
    ACCOUNT_ID, EVENT_BUS, JOB_QUEUE, METADATA_API_KEY_SECRET, METADATA_PATH_PREFIX,
    METADATA_TABLE, Options, TRIGGER_FUNCTION,
};
use super::process;
use super::registry::{InvokeError, Registry};
use super::server;

/// `<state dir>/local.json`: where a running stack's services are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// The region of every resource.
    pub region: String,
    /// S3 (`--endpoint-url` for `aws s3`; path-style addressing).
    pub s3_endpoint: String,
    /// The deployment bucket: upload flows under `flows/`.
    pub bucket: String,
    /// The trigger API (`POST /flows/{flow}/runs`, ...; no authorization locally).
    pub api_url: String,
    /// Step Functions.
    pub sfn_endpoint: String,
    /// The Lambda Invoke API hosting dropflow's functions.
    pub lambda_endpoint: String,
    /// The Batch job queue the jobs run on (as local processes).
    pub job_queue: String,
    /// The account id in every ARN.
    pub account_id: String,
    /// Metaflow's metadata service (`http://127.0.0.1:<port>/metadata`): what
    /// `METAFLOW_SERVICE_URL` should be, with `METAFLOW_DEFAULT_METADATA=service`, for the
    /// Client to read the stack's runs (its tasks register there).
    #[serde(default)]
    pub metadata_url: String,
    /// The metadata service's API key (random per `up`, kept in the emulator's Secrets
    /// Manager as [`METADATA_API_KEY_SECRET`]): what `METAFLOW_SERVICE_AUTH_KEY` should
    /// be; a request without it gets 401.
    #[serde(default)]
    pub metadata_auth_key: String,
    /// dropflow's EventBridge bus (`aws events put-events --entries
    /// '[{"EventBusName": BUS, "DetailType": "<event>", "Detail": "{...}", "Source": ...}]'`).
    #[serde(default)]
    pub event_bus: String,
}

impl Endpoints {
    /// Reads `<state_dir>/local.json`.
    pub fn read(state_dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(endpoints_file(state_dir)).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// `<state_dir>/local.json`.
pub fn endpoints_file(state_dir: &Path) -> PathBuf {
    state_dir.join("local.json")
}

/// A local stack, up. Dropping it stops it.
#[derive(Debug)]
pub struct Stack {
    options: Options,
    emulator: Emulator,
    endpoints: Endpoints,
    sdk: SdkConfig,
    servers: Vec<JoinHandle<()>>,
    functions: Vec<String>,
}

impl Stack {
    /// Brings a stack up as `options` say, hosting dropflow's functions and `extra` (which
    /// win on equal names); returns once every part answers and `local.json` is written.
    pub async fn start(options: Options, extra: Registry) -> Result<Self, LocalError> {
        let mut options = options;
        options.python = absolute(&options.python)?;
        emulator::check_python(&options.python)?;
        std::fs::create_dir_all(&options.state_dir).map_err(LocalError::io(format!(
            "creating {}",
            options.state_dir.display()
        )))?;
        options.state_dir = absolute(&options.state_dir)?;
        if let Some(pid) = running_pid(&options.state_dir) {
            return Err(LocalError::AlreadyRunning {
                pid,
                state_dir: options.state_dir.clone(),
            });
        }
        let _ = std::fs::remove_file(endpoints_file(&options.state_dir));
        kill_leftover_jobs(&options.state_dir);

        let [moto_port, invoke_port, api_port, metadata_port] = options.ports();
        let invoke = bind(invoke_port, "the Lambda Invoke API").await?;
        let api = bind(api_port, "the trigger API").await?;
        let metadata = bind(metadata_port, "the metadata service").await?;
        let invoke_url = url(&invoke)?;
        let api_url = url(&api)?;
        let metadata_url = format!("{}{METADATA_PATH_PREFIX}", url(&metadata)?);
        let emulator = start_emulator(&options, moto_port, &invoke_url).await?;
        let moto_url = format!("http://127.0.0.1:{}", emulator.port());
        let sdk = dropflow_aws::static_sdk_config(&moto_url, &options.region);
        let config = functions::config(&options)?;
        let metadata_auth_key = dropflow_metadata_host::secret::generate_api_key();
        let metadata_server = metadata_service(metadata, &sdk, &metadata_auth_key).await?;
        let events_url = format!("{api_url}/events");
        let mut registry = functions::builtin(
            &config,
            &sdk,
            &metadata_url,
            &metadata_auth_key,
            &events_url,
        );
        let trigger = Arc::new(dropflow_trigger::deps(
            dropflow_api::TriggerConfig::new(&options.bucket),
            &sdk,
        ));
        // The event bus's rule invokes the trigger function, as on AWS.
        let bus_trigger = trigger.clone();
        registry.register(TRIGGER_FUNCTION, move |payload: serde_json::Value| {
            let deps = bus_trigger.clone();
            async move {
                let payload = serde_json::value::to_raw_value(&payload)
                    .map_err(|e| InvokeError::new("dropflow.InvalidEvent", e.to_string()))?;
                dropflow_api::handle_invocation(payload, Default::default(), &deps)
                    .await
                    .map_err(|e| InvokeError::new(e.error_type, e.message))
            }
        });
        registry.extend(extra);
        let functions = registry.names().iter().map(|s| s.to_string()).collect();
        let servers = vec![
            server::invoke_api(invoke, registry),
            server::trigger_api(api, trigger),
            metadata_server,
        ];

        let endpoints = Endpoints {
            region: options.region.clone(),
            s3_endpoint: moto_url.clone(),
            bucket: options.bucket.clone(),
            api_url,
            sfn_endpoint: moto_url,
            lambda_endpoint: invoke_url,
            job_queue: JOB_QUEUE.to_string(),
            account_id: ACCOUNT_ID.to_string(),
            metadata_url,
            metadata_auth_key,
            event_bus: EVENT_BUS.to_string(),
        };
        let mut stack = Self {
            options,
            emulator,
            endpoints,
            sdk,
            servers,
            functions,
        };
        bootstrap::create_resources(
            &stack.options,
            &stack.sdk,
            stack.emulator.port(),
            &config.flows_prefix,
        )
        .await?;
        stack.write_endpoints()?;
        Ok(stack)
    }

    fn write_endpoints(&mut self) -> Result<(), LocalError> {
        let file = endpoints_file(&self.options.state_dir);
        let partial = file.with_extension("json.partial");
        let json = serde_json::to_string_pretty(&self.endpoints).unwrap_or_default() + "\n";
        std::fs::write(&partial, json)
            .and_then(|()| std::fs::rename(&partial, &file))
            .map_err(LocalError::io(format!("writing {}", file.display())))
    }

    /// Where the services are.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// An SDK configuration for the emulator (any client: S3, Step Functions, Batch, ...).
    pub fn sdk(&self) -> &SdkConfig {
        &self.sdk
    }

    /// The settings it runs with (paths made absolute).
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The hosted functions' names.
    pub fn functions(&self) -> &[String] {
        &self.functions
    }

    /// The emulator's pid.
    pub fn emulator_pid(&self) -> u32 {
        self.emulator.pid()
    }

    /// The failure to report once the emulator has exited by itself (it should not).
    pub fn exited(&mut self) -> Option<LocalError> {
        let status = self.emulator.exited()?;
        Some(LocalError::Emulator {
            message: format!("it exited ({status})"),
            log: self.emulator.log().to_path_buf(),
            log_tail: super::error::tail(self.emulator.log(), 15),
        })
    }

    /// Stops everything it started (the emulator kills its Batch jobs; any job left is
    /// killed here) and removes the endpoints file; idempotent.
    pub fn stop(&mut self) {
        for server in &self.servers {
            server.abort();
        }
        self.emulator.stop();
        kill_leftover_jobs(&self.options.state_dir);
        let _ = std::fs::remove_file(endpoints_file(&self.options.state_dir));
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Metaflow's metadata service on `listener`, mounted at [`METADATA_PATH_PREFIX`] as on
/// AWS, over the emulator's DynamoDB (`sdk`), closed by `api_key` as on AWS: the key goes
/// into the emulator's Secrets Manager and the service reads it from there, as the
/// Lambda reads the template's secret. Creates its table, then serves until the returned
/// task is aborted.
async fn metadata_service(
    listener: TcpListener,
    sdk: &SdkConfig,
    api_key: &str,
) -> Result<JoinHandle<()>, LocalError> {
    let secret = dropflow_metadata_host::secret::create_api_key_secret(
        sdk,
        METADATA_API_KEY_SECRET,
        api_key,
    )
    .await
    .map_err(|e| LocalError::setup("the metadata service's API key secret", e))?;
    let mut config = dropflow_metadata_host::MetadataConfig::from_lookup(|name| match name {
        "DROPFLOW_METADATA_TABLE" => Some(METADATA_TABLE.to_string()),
        "DROPFLOW_METADATA_PATH_PREFIX" => Some(METADATA_PATH_PREFIX.to_string()),
        "DROPFLOW_METADATA_API_KEY_SECRET" => Some(secret.clone()),
        _ => None,
    })
    .map_err(|e| LocalError::setup("the metadata service's configuration", e))?;
    dropflow_metadata_host::resolve_api_key(&mut config, sdk)
        .await
        .map_err(|e| LocalError::setup("the metadata service's API key", e))?;
    let service = dropflow_metadata_host::dynamo_service(&config, sdk);
    service
        .store()
        .ensure_table()
        .await
        .map_err(|e| LocalError::setup("the metadata service's DynamoDB table", e))?;
    let service = Arc::new(service);
    Ok(tokio::spawn(async move {
        let forever = std::future::pending::<()>();
        if let Err(error) = dropflow_metadata_host::local::serve(listener, service, forever).await {
            tracing::error!("the metadata service stopped: {error}");
        }
    }))
}

/// Starts the emulator on `port`; on a free port (0) another is tried when the one chosen
/// was taken between choosing it and the emulator binding it (stacks starting together).
async fn start_emulator(
    options: &Options,
    port: u16,
    invoke_url: &str,
) -> Result<Emulator, LocalError> {
    let mut attempts = 0;
    loop {
        let chosen = reserve(port, "the AWS emulator, moto").await?;
        let job_env = job_environment(options, &format!("http://127.0.0.1:{chosen}"));
        match Emulator::start(options, chosen, invoke_url, &job_env).await {
            Err(LocalError::Emulator { message, .. })
                if port == 0 && attempts < 3 && message.contains("already in use") =>
            {
                attempts += 1;
                tracing::warn!("port {chosen} was taken meanwhile; trying another");
            }
            outcome => return outcome,
        }
    }
}

/// What every Batch job gets on top of its own environment: the venv's `python` first on
/// `PATH`, the emulator as every AWS endpoint (SDKs and Metaflow's S3 client), test
/// credentials, and (for jobs not run with `--metadata=service`, which the step function's
/// jobs are: their own environment carries the stack's `METAFLOW_SERVICE_URL`, which this
/// leaves alone) Metaflow's local metadata in the job's working directory, as in a
/// fresh container (`@batch` steps tar `./.metaflow`; a `.metaflow` of a parent directory
/// must not be picked up). The emulator merges it into `<state dir>/metaflow/.metaflow`,
/// where the Client reads it with `METAFLOW_DATASTORE_SYSROOT_LOCAL=<state dir>/metaflow`.
pub fn job_environment(options: &Options, moto_url: &str) -> BTreeMap<String, String> {
    let python_dir = options
        .python
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let host_path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".to_string());
    let entries = [
        ("PATH", format!("{}:{host_path}", python_dir.display())),
        ("AWS_ENDPOINT_URL", moto_url.to_string()),
        ("METAFLOW_S3_ENDPOINT_URL", moto_url.to_string()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("AWS_DEFAULT_REGION", options.region.clone()),
        ("AWS_REGION", options.region.clone()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ("METAFLOW_DATASTORE_SYSROOT_LOCAL", ".".to_string()),
    ];
    entries
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// The pid of a stack already running from `state_dir` (its supervisor or emulator).
pub fn running_pid(state_dir: &Path) -> Option<u32> {
    [("dropflow.pid", "dropflow"), ("moto.pid", "moto_dropflow")]
        .into_iter()
        .filter_map(|(file, needle)| {
            let pid = process::read_pid(&state_dir.join(file))?;
            (pid != std::process::id()
                && process::alive(pid)
                && process::command_line_contains(pid, needle))
            .then_some(pid)
        })
        .next()
}

/// Kills the process groups of Batch jobs recorded in `<state_dir>/jobs/<pid>.pid` (left
/// by an emulator that was killed before it could stop them).
pub fn kill_leftover_jobs(state_dir: &Path) -> Vec<u32> {
    let mut killed = Vec::new();
    let Ok(entries) = std::fs::read_dir(state_dir.join("jobs")) else {
        return killed;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("pid") {
            continue;
        }
        let pgid = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<u32>().ok());
        if let Some(pgid) = pgid
            && process::group_alive(pgid)
        {
            process::kill_group(pgid);
            killed.push(pgid);
        }
        let _ = std::fs::remove_file(&path);
    }
    killed
}

fn absolute(path: &Path) -> Result<PathBuf, LocalError> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(LocalError::io("reading the current directory"))?;
    Ok(cwd.join(path))
}

async fn bind(port: u16, role: &'static str) -> Result<TcpListener, LocalError> {
    TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::AddrInUse => LocalError::PortInUse { port, role },
            _ => LocalError::Io {
                what: format!("listening on 127.0.0.1:{port} ({role})"),
                source: error,
            },
        })
}

/// Checks `port` is free for a process started next (a free one when 0).
async fn reserve(port: u16, role: &'static str) -> Result<u16, LocalError> {
    let listener = bind(port, role).await?;
    let port = listener
        .local_addr()
        .map_err(LocalError::io("reading a listener's address"))?
        .port();
    drop(listener);
    Ok(port)
}

fn url(listener: &TcpListener) -> Result<String, LocalError> {
    let address = listener
        .local_addr()
        .map_err(LocalError::io("reading a listener's address"))?;
    Ok(format!("http://127.0.0.1:{}", address.port()))
}
