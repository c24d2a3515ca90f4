//! Every `@batch` attribute, read and checked as Metaflow's `BatchDecorator` and
//! `BatchJob._register_job_definition` (`metaflow/plugins/aws/batch/`) read them, for
//! the step's compute platform: what AWS Batch would refuse when the job is submitted is
//! refused here, at deploy time, with the decorator's line and the fix. Resources (cpu,
//! gpu, memory, shared_memory), image, queue and iam_role are read in `steps`; this
//! module checks them against the platform and reads the rest.

use std::collections::BTreeMap;

use super::error::CompileError;
use super::steps::{DecoratorArgs, StepRuntime, python_int, string};
use crate::python::{Decorator, FlowClass, StepDef, Value};
use dropflow_contract::options::{ComputePlatform, DeployOptions, Platform};

/// Metaflow 2.19's `BatchDecorator.defaults`: every attribute `@batch` accepts.
pub const BATCH_ATTRIBUTES: &[&str] = &[
    "cpu",
    "gpu",
    "memory",
    "image",
    "queue",
    "iam_role",
    "execution_role",
    "shared_memory",
    "max_swap",
    "swappiness",
    "inferentia",
    "trainium",
    "efa",
    "host_volumes",
    "efs_volumes",
    "use_tmpfs",
    "aws_batch_tags",
    "tmpfs_tempdir",
    "tmpfs_size",
    "tmpfs_path",
    "ephemeral_storage",
    "log_driver",
    "log_options",
    "executable",
    "privileged",
];

/// Metaflow 2.19's `ResourcesDecorator.defaults`.
pub const RESOURCES_ATTRIBUTES: &[&str] = &["cpu", "gpu", "disk", "memory", "shared_memory"];

/// AWS Batch's log drivers (`LogConfiguration.logDriver`).
const LOG_DRIVERS: &[&str] = &[
    "awsfirelens",
    "awslogs",
    "fluentd",
    "gelf",
    "journald",
    "json-file",
    "splunk",
    "syslog",
];

/// The log drivers Batch allows on Fargate.
const FARGATE_LOG_DRIVERS: &[&str] = &["awslogs", "splunk"];

/// Fargate's ephemeral storage range, GiB.
const EPHEMERAL_STORAGE_GIB: std::ops::RangeInclusive<u64> = 21..=200;

/// Tags AWS allows on one resource.
const MAX_TAGS: usize = 50;

/// `/metaflow_temp`: Metaflow's `tmpfs_path` default.
const DEFAULT_TMPFS_PATH: &str = "/metaflow_temp";

/// A tmpfs mount (`use_tmpfs`, `tmpfs_size`, `tmpfs_path`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmpfsMount {
    /// Absolute mount point.
    pub path: String,
    /// Size in MiB (half the memory unless `tmpfs_size` says otherwise).
    pub size_mib: u64,
}

/// A volume and where it is mounted (`host_volumes`, `efs_volumes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    /// Host path or EFS file system id.
    pub source: String,
    /// Path in the container.
    pub container_path: String,
}

/// A step's container settings beyond resources, image, queue and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSettings {
    /// EC2 or Fargate.
    pub platform: ComputePlatform,
    /// `executionRoleArn` (Fargate).
    pub execution_role_arn: Option<String>,
    /// Fargate's `assignPublicIp`.
    pub assign_public_ip: bool,
    /// `max_swap`, MiB.
    pub max_swap: Option<u64>,
    /// `swappiness`.
    pub swappiness: Option<u64>,
    /// `inferentia` (or `trainium`) chips.
    pub inferentia: u64,
    /// `efa` devices.
    pub efa: u64,
    /// `host_volumes`.
    pub host_volumes: Vec<VolumeMount>,
    /// `efs_volumes`.
    pub efs_volumes: Vec<VolumeMount>,
    /// The tmpfs mount, when `use_tmpfs` or `tmpfs_size` asks for one.
    pub tmpfs: Option<TmpfsMount>,
    /// `METAFLOW_TEMPDIR` for the task: the tmpfs path when `tmpfs_tempdir` (default).
    pub tempdir: Option<String>,
    /// The variable [`Self::tempdir`] sets.
    pub tempdir_variable: String,
    /// `ephemeral_storage`, GiB (Fargate).
    pub ephemeral_storage_gib: Option<u64>,
    /// `log_driver`.
    pub log_driver: Option<String>,
    /// `log_options`, `key:value` each.
    pub log_options: BTreeMap<String, String>,
    /// `aws_batch_tags`, on the job definition and propagated to the task.
    pub tags: BTreeMap<String, String>,
    /// `privileged`.
    pub privileged: bool,
}

/// What the caller knows about the deployment.
pub struct DeploySettings<'a> {
    /// The owner's options.
    pub options: &'a DeployOptions,
    /// The operator's settings.
    pub platform: &'a Platform,
    /// Tags dropflow puts on every resource (they count toward AWS's 50).
    pub base_tags: &'a BTreeMap<String, String>,
}

/// Reads and checks the step's `@batch` (and `@resources`) for its compute platform.
/// Attributes dropflow does not act on get a warning with their line.
pub fn container_settings(
    flow: &FlowClass,
    step: &StepDef,
    runtime: &StepRuntime,
    deployment: &DeploySettings<'_>,
    warnings: &mut Vec<String>,
) -> Result<ContainerSettings, CompileError> {
    let platform = deployment
        .platform
        .compute_platform(deployment.options, &runtime.job_queue);
    let batch = step.decorator("batch");
    let resources = step.decorator("resources");
    // Unknown attribute names were refused with the flow's load checks
    // (`steps::check_attributes`).
    if let Some(decorator) = resources
        && decorator.kwarg("disk").is_some()
    {
        warnings.push(format!(
                "{}:{}: @resources(disk=...) on step {} is not used: AWS Batch has no disk request (Metaflow ignores it on Batch too). Size the compute environment's volumes, or use @batch(ephemeral_storage=...) on Fargate.",
                flow.file, decorator.line, step.name
            ));
    }
    let reader = Reader {
        flow,
        step,
        decorator: batch,
        platform,
    };
    check_resources(&reader, runtime, resources)?;
    let mut settings = ContainerSettings {
        platform,
        execution_role_arn: None,
        assign_public_ip: deployment.options.assign_public_ip,
        max_swap: None,
        swappiness: None,
        inferentia: 0,
        efa: 0,
        host_volumes: Vec::new(),
        efs_volumes: Vec::new(),
        tmpfs: None,
        tempdir: None,
        tempdir_variable: "METAFLOW_TEMPDIR".into(),
        ephemeral_storage_gib: None,
        log_driver: None,
        log_options: BTreeMap::new(),
        tags: BTreeMap::new(),
        privileged: false,
    };
    reader.read_into(&mut settings, runtime, warnings)?;
    if platform == ComputePlatform::Fargate {
        settings.execution_role_arn = settings
            .execution_role_arn
            .take()
            .or_else(|| deployment.platform.execution_role_arn.clone());
        if settings.execution_role_arn.is_none() {
            return Err(reader.job_error(
                "No AWS Fargate task execution IAM role found. Set DROPFLOW_JOB_EXECUTION_ROLE_ARN (in the compile function's environment, or the shell's for dropflow compile; Metaflow's METAFLOW_ECS_FARGATE_EXECUTION_ROLE), or give the step @batch(execution_role='arn:aws:iam::...:role/...').".into(),
            ));
        }
    }
    let tags = deployment.base_tags.len() + settings.tags.len();
    if tags > MAX_TAGS {
        return Err(reader.attribute_error(
            "aws_batch_tags",
            format!(
                "gives the job definition {tags} tags with dropflow's own; AWS allows {MAX_TAGS}. Remove some tags."
            ),
        ));
    }
    Ok(settings)
}

/// Metaflow's `InvalidDecoratorAttribute`: an attribute the decorator does not have.
pub(super) fn known_attributes(
    flow: &FlowClass,
    decorator: &Decorator,
    attributes: &[&str],
) -> Result<(), CompileError> {
    for (name, value) in &decorator.kwargs {
        if name == "**" {
            return Err(CompileError::BadDecoratorArgument {
                file: flow.file.clone(),
                line: decorator.line,
                decorator: decorator.name.clone(),
                argument: "**".into(),
                problem: format!(
                    "unpacks `{}`, which dropflow cannot evaluate without running Python; write the attributes out, or unpack a Config (`**cfg.part`)",
                    value.describe()
                ),
            });
        }
        if !attributes.contains(&name.as_str()) {
            return Err(CompileError::BadDecoratorArgument {
                file: flow.file.clone(),
                line: decorator.line,
                decorator: decorator.name.clone(),
                argument: name.clone(),
                problem: format!(
                    "is refused by Metaflow: Decorator '{}' does not support the attribute '{name}'. These attributes are supported: {}. Check the spelling.",
                    decorator.name,
                    attributes.join(", ")
                ),
            });
        }
    }
    Ok(())
}

/// Fargate's vCPU and memory pairs: memory from, to and step (MiB) per vCPU count.
const FARGATE_SIZES: &[(f64, u64, u64, u64)] = &[
    (0.25, 512, 2048, 512),
    (0.5, 1024, 4096, 1024),
    (1.0, 2048, 8192, 1024),
    (2.0, 4096, 16384, 1024),
    (4.0, 8192, 30720, 1024),
    (8.0, 16384, 61440, 4096),
    (16.0, 32768, 122880, 8192),
];

/// Metaflow's `BatchJob.cpu`/`memory` checks, EC2's whole vCPUs, and Fargate's pairs.
fn check_resources(
    reader: &Reader<'_>,
    runtime: &StepRuntime,
    resources: Option<&Decorator>,
) -> Result<(), CompileError> {
    let line = reader
        .decorator
        .or(resources)
        .map_or(reader.step.line, |d| d.line);
    let error = |problem: String| CompileError::JobDefinition {
        file: reader.flow.file.clone(),
        line,
        step: reader.step.name.clone(),
        problem,
    };
    let cpu: f64 = runtime.resources.cpu.parse().unwrap_or(0.0);
    let memory = runtime.resources.memory;
    if cpu <= 0.0 {
        return Err(error(format!(
            "Invalid CPU value ({}); it should be greater than 0. Give cpu= a positive number.",
            runtime.resources.cpu
        )));
    }
    if memory == 0 {
        return Err(error(
            "Invalid memory value (0); it should be greater than 0. Give memory= in MiB, e.g. memory=4096.".into(),
        ));
    }
    match reader.platform {
        ComputePlatform::Ec2 => {
            if cpu.fract() != 0.0 {
                return Err(error(format!(
                    "cpu={} is a fraction of a vCPU, which AWS Batch allows only on Fargate. Give a whole number of vCPUs, or deploy with platform = \"fargate\".",
                    runtime.resources.cpu
                )));
            }
        }
        ComputePlatform::Fargate => {
            if runtime.resources.gpu > 0 {
                return Err(error(format!(
                    "gpu={} cannot run on Fargate, which has no GPUs. Use an EC2 queue with GPU instances for this step, or remove gpu=.",
                    runtime.resources.gpu
                )));
            }
            if runtime.resources.shared_memory.is_some() {
                return Err(error(
                    "shared_memory= sets /dev/shm, which Fargate does not support (Batch's linuxParameters are EC2 only). Remove shared_memory=, or use an EC2 queue.".into(),
                ));
            }
            let Some(&(_, low, high, step)) = FARGATE_SIZES.iter().find(|(c, ..)| *c == cpu) else {
                return Err(error(format!(
                    "cpu={} is not a Fargate size: Fargate takes 0.25, 0.5, 1, 2, 4, 8 or 16 vCPUs.",
                    runtime.resources.cpu
                )));
            };
            if memory < low || memory > high || !(memory - low).is_multiple_of(step) {
                return Err(error(format!(
                    "memory={memory} does not fit cpu={} on Fargate: with {} vCPU, memory must be {low} to {high} MiB in steps of {step}.",
                    runtime.resources.cpu, runtime.resources.cpu
                )));
            }
        }
    }
    Ok(())
}

/// Reads one step's `@batch`.
struct Reader<'a> {
    flow: &'a FlowClass,
    step: &'a StepDef,
    decorator: Option<&'a Decorator>,
    platform: ComputePlatform,
}

impl Reader<'_> {
    fn get(&self, name: &str) -> Result<Option<&Value>, CompileError> {
        match self.decorator {
            Some(decorator) => DecoratorArgs {
                flow: self.flow,
                decorator,
            }
            .get(name),
            None => Ok(None),
        }
    }

    fn line(&self) -> u32 {
        self.decorator.map_or(self.step.line, |d| d.line)
    }

    fn attribute_error(&self, argument: &str, problem: String) -> CompileError {
        CompileError::BadDecoratorArgument {
            file: self.flow.file.clone(),
            line: self.line(),
            decorator: "batch".into(),
            argument: argument.into(),
            problem,
        }
    }

    fn job_error(&self, problem: String) -> CompileError {
        CompileError::JobDefinition {
            file: self.flow.file.clone(),
            line: self.line(),
            step: self.step.name.clone(),
            problem,
        }
    }

    /// Refuses `name` on Fargate, where Batch does not support it.
    fn not_on_fargate(&self, name: &str, what: &str) -> Result<(), CompileError> {
        if self.platform == ComputePlatform::Fargate {
            return Err(self.attribute_error(
                name,
                format!(
                    "{what}, which AWS Batch does not support on Fargate. Remove {name}=, or run step {} on an EC2 queue.",
                    self.step.name
                ),
            ));
        }
        Ok(())
    }

    fn whole(&self, name: &str) -> Result<Option<u64>, CompileError> {
        let Some(decorator) = self.decorator else {
            return Ok(None);
        };
        match self.get(name)? {
            Some(value) => python_int(self.flow, decorator, name, value).map(Some),
            None => Ok(None),
        }
    }

    fn boolean(&self, name: &str, default: bool) -> Result<bool, CompileError> {
        match self.get(name)? {
            None => Ok(default),
            Some(value) => value.as_bool().ok_or_else(|| {
                self.attribute_error(
                    name,
                    format!("is {}; write True or False", value.describe()),
                )
            }),
        }
    }

    fn text(&self, name: &str) -> Result<Option<String>, CompileError> {
        let Some(decorator) = self.decorator else {
            return Ok(None);
        };
        match self.get(name)? {
            Some(value) => string(self.flow, decorator, name, value).map(Some),
            None => Ok(None),
        }
    }

    /// A string or a list of strings (Metaflow wraps a lone string in a list).
    fn strings(&self, name: &str) -> Result<Vec<String>, CompileError> {
        let Some(value) = self.get(name)? else {
            return Ok(Vec::new());
        };
        let bad = || {
            self.attribute_error(
                name,
                format!(
                    "is {}; write a string or a list of strings",
                    value.describe()
                ),
            )
        };
        match value.as_literal() {
            Some(serde_json::Value::String(s)) => Ok(vec![s.clone()]),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(String::from).ok_or_else(bad))
                .collect(),
            _ => Err(bad()),
        }
    }

    fn read_into(
        &self,
        settings: &mut ContainerSettings,
        runtime: &StepRuntime,
        warnings: &mut Vec<String>,
    ) -> Result<(), CompileError> {
        let flow = self.flow;
        if self.get("executable")?.is_some() {
            warnings.push(format!(
                "{}:{}: @batch(executable=...) on step {} is not used: Metaflow's Step Functions runs `python` whatever it says, and so does dropflow. Make `python` on the image's PATH the interpreter you want, and remove executable=.",
                flow.file,
                self.line(),
                self.step.name
            ));
        }
        settings.execution_role_arn = self.text("execution_role")?;
        if settings.execution_role_arn.is_some() && self.platform == ComputePlatform::Ec2 {
            warnings.push(format!(
                "{}:{}: @batch(execution_role=...) on step {} is not used: Metaflow sets the execution role only on Fargate, and this step runs on EC2. Remove it, or deploy with platform = \"fargate\".",
                flow.file,
                self.line(),
                self.step.name
            ));
            settings.execution_role_arn = None;
        }
        self.read_linux(settings)?;
        self.read_tmpfs(settings, runtime)?;
        self.read_volumes(settings)?;
        self.read_logging(settings)?;
        settings.privileged = self.boolean("privileged", false)?;
        if settings.privileged {
            self.not_on_fargate("privileged", "a privileged container")?;
        }
        if let Some(size) = self.whole("ephemeral_storage")? {
            if self.platform == ComputePlatform::Ec2 {
                return Err(self.attribute_error(
                    "ephemeral_storage",
                    "is only available for FARGATE compute environments (Metaflow's words). On EC2 the compute environment's launch template sizes the disk: remove ephemeral_storage=, or deploy with platform = \"fargate\".".into(),
                ));
            }
            if !EPHEMERAL_STORAGE_GIB.contains(&size) {
                return Err(self.attribute_error(
                    "ephemeral_storage",
                    format!("is {size} GiB; Fargate takes 21 to 200 GiB"),
                ));
            }
            settings.ephemeral_storage_gib = Some(size);
        }
        settings.tags = self.tags()?;
        Ok(())
    }

    /// `max_swap`, `swappiness`, `inferentia`/`trainium`, `efa`.
    fn read_linux(&self, settings: &mut ContainerSettings) -> Result<(), CompileError> {
        settings.max_swap = self.whole("max_swap")?;
        if settings.max_swap.is_some() {
            self.not_on_fargate("max_swap", "swap")?;
        }
        settings.swappiness = self.whole("swappiness")?;
        if let Some(swappiness) = settings.swappiness {
            self.not_on_fargate("swappiness", "swap")?;
            if swappiness >= 100 {
                return Err(self.attribute_error(
                    "swappiness",
                    format!(
                        "is {swappiness}: Invalid swappiness value ({swappiness}); (should be 0 or greater and less than 100)"
                    ),
                ));
            }
        }
        let inferentia = self.whole("inferentia")?;
        let trainium = self.whole("trainium")?;
        if inferentia.is_some() && trainium.is_some() {
            return Err(self.attribute_error(
                "trainium",
                "is given with inferentia=: only specify a value for 'inferentia' or 'trainium', not both.".into(),
            ));
        }
        settings.inferentia = inferentia.or(trainium).unwrap_or(0);
        if settings.inferentia > 0 {
            let name = if trainium.is_some() {
                "trainium"
            } else {
                "inferentia"
            };
            self.not_on_fargate(name, "Neuron devices")?;
        }
        settings.efa = self.whole("efa")?.unwrap_or(0);
        if settings.efa > 0 {
            self.not_on_fargate("efa", "an Elastic Fabric Adapter")?;
        }
        Ok(())
    }

    /// `use_tmpfs`, `tmpfs_size`, `tmpfs_path`, `tmpfs_tempdir`.
    fn read_tmpfs(
        &self,
        settings: &mut ContainerSettings,
        runtime: &StepRuntime,
    ) -> Result<(), CompileError> {
        let use_tmpfs = self.boolean("use_tmpfs", false)?;
        let size = self.whole("tmpfs_size")?.filter(|size| *size > 0);
        let tempdir = self.boolean("tmpfs_tempdir", true)?;
        let path = self
            .text("tmpfs_path")?
            .unwrap_or_else(|| DEFAULT_TMPFS_PATH.to_string());
        if !path.starts_with('/') {
            return Err(self.attribute_error(
                "tmpfs_path",
                format!("is '{path}': 'tmpfs_path' needs to be an absolute path"),
            ));
        }
        if !use_tmpfs && size.is_none() {
            return Ok(());
        }
        let name = if use_tmpfs { "use_tmpfs" } else { "tmpfs_size" };
        if self.platform == ComputePlatform::Fargate {
            return Err(self.attribute_error(
                name,
                format!(
                    "asks for tmpfs, which is not available for Fargate compute resources. Remove {name}=, or run step {} on an EC2 queue.",
                    self.step.name
                ),
            ));
        }
        settings.tmpfs = Some(TmpfsMount {
            path: path.clone(),
            size_mib: size.unwrap_or(runtime.resources.memory / 2),
        });
        if tempdir {
            settings.tempdir = Some(path);
        }
        Ok(())
    }

    /// `host_volumes` (`/host` or `/host:/container`), `efs_volumes` (`fs-id` or
    /// `fs-id:/container`, default `/mnt/fs-id`).
    fn read_volumes(&self, settings: &mut ContainerSettings) -> Result<(), CompileError> {
        for entry in self.strings("host_volumes")? {
            self.not_on_fargate("host_volumes", "a host path volume")?;
            let (source, container) = entry.split_once(':').unwrap_or((&entry, &entry));
            if !source.starts_with('/') || !container.starts_with('/') {
                return Err(self.attribute_error(
                    "host_volumes",
                    format!(
                        "has '{entry}'; write '/host/path' or '/host/path:/container/path' (absolute paths)"
                    ),
                ));
            }
            settings.host_volumes.push(VolumeMount {
                source: source.into(),
                container_path: container.into(),
            });
        }
        for entry in self.strings("efs_volumes")? {
            let (id, container) = match entry.split_once(':') {
                Some((id, container)) => (id.to_string(), container.to_string()),
                None => (entry.clone(), format!("/mnt/{entry}")),
            };
            let valid_id = id.strip_prefix("fs-").is_some_and(|rest| {
                !rest.is_empty() && rest.chars().all(|c| c.is_ascii_hexdigit())
            });
            if !valid_id || !container.starts_with('/') {
                return Err(self.attribute_error(
                    "efs_volumes",
                    format!(
                        "has '{entry}'; write an EFS file system id ('fs-0123abcd'), optionally with ':/container/path'"
                    ),
                ));
            }
            settings.efs_volumes.push(VolumeMount {
                source: id,
                container_path: container,
            });
        }
        Ok(())
    }

    /// `log_driver` and `log_options` (`["key:value", ...]`).
    fn read_logging(&self, settings: &mut ContainerSettings) -> Result<(), CompileError> {
        settings.log_driver = self.text("log_driver")?;
        if let Some(driver) = &settings.log_driver {
            if !LOG_DRIVERS.contains(&driver.as_str()) {
                return Err(self.attribute_error(
                    "log_driver",
                    format!(
                        "is '{driver}', which AWS Batch does not know; use one of {}",
                        LOG_DRIVERS.join(", ")
                    ),
                ));
            }
            if self.platform == ComputePlatform::Fargate
                && !FARGATE_LOG_DRIVERS.contains(&driver.as_str())
            {
                return Err(self.attribute_error(
                    "log_driver",
                    format!(
                        "is '{driver}'; jobs on Fargate can use only {}",
                        FARGATE_LOG_DRIVERS.join(" or ")
                    ),
                ));
            }
        }
        for option in self.strings("log_options")? {
            let Some((key, value)) = option.split_once(':') else {
                return Err(self.attribute_error(
                    "log_options",
                    format!(
                        "has '{option}', which Metaflow splits at ':' and fails; write 'key:value', e.g. 'awslogs-group:aws/batch/job'"
                    ),
                ));
            };
            settings.log_options.insert(key.into(), value.into());
        }
        if settings.log_driver.is_none() && !settings.log_options.is_empty() {
            return Err(self.attribute_error(
                "log_options",
                "needs a log_driver: AWS Batch refuses log options without one. Add log_driver='awslogs' (or the driver the options are for).".into(),
            ));
        }
        Ok(())
    }

    /// `aws_batch_tags`: a dict of strings, checked as Metaflow's `validate_aws_tag`
    /// and AWS's tag rules.
    fn tags(&self) -> Result<BTreeMap<String, String>, CompileError> {
        let Some(value) = self.get("aws_batch_tags")? else {
            return Ok(BTreeMap::new());
        };
        let Some(serde_json::Value::Object(map)) = value.as_literal() else {
            return Err(self.attribute_error(
                "aws_batch_tags",
                format!(
                    "is {}: aws_batch_tags must be Dict[str, str], e.g. {{'team': 'ml'}}",
                    value.describe()
                ),
            ));
        };
        let permitted = |text: &str| {
            text.chars()
                .all(|c| c.is_alphanumeric() || c.is_whitespace() || "+-=._:/@".contains(c))
        };
        let mut tags = BTreeMap::new();
        for (key, value) in map {
            let Some(value) = value.as_str() else {
                return Err(self.attribute_error(
                    "aws_batch_tags",
                    format!("has {key}: {value}: aws_batch_tags must be Dict[str, str]"),
                ));
            };
            let problem = if key.to_ascii_lowercase().starts_with("aws:")
                || value.to_ascii_lowercase().starts_with("aws:")
            {
                Some("'aws:' is not an allowed prefix for either tag keys or values".to_string())
            } else if key.starts_with("dropflow:") {
                Some(format!(
                    "tag {key} is refused: dropflow:* tags are dropflow's own (they name the flow a resource belongs to); choose another key"
                ))
            } else if key.is_empty() || key.chars().count() > 128 {
                Some(format!(
                    "Tag key *{key}* is too long. Maximum allowed tag key length is 128."
                ))
            } else if value.chars().count() > 256 {
                Some(format!(
                    "Tag value *{value}* is too long. Maximum allowed tag value length is 256."
                ))
            } else if !permitted(key) || !permitted(value) {
                Some(format!(
                    "tag {key}={value} has characters AWS does not allow in tags; use letters, digits, spaces and + - = . _ : / @"
                ))
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(self.attribute_error("aws_batch_tags", problem));
            }
            tags.insert(key.clone(), value.to_string());
        }
        Ok(tags)
    }
}
