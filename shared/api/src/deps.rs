//! What the API's logic calls, as the ports it needs ([`ApiPorts`]) and the values that
//! implement them ([`Deps`]): the trigger Lambda binds them to `dropflow-aws`
//! (`dropflow_trigger::AwsPorts`), the unit tests to [`crate::memory`].

use std::fmt;

use dropflow_contract::ports::{Executions, JobEnds, ObjectListing, ObjectStore};
use dropflow_task::datastore::Datastore;

use crate::config::TriggerConfig;

/// The services the API talks to, one type per port.
pub trait ApiPorts: 'static {
    /// The deployment bucket: deployments, reports, run records, event state.
    type Objects: ObjectStore + ObjectListing;
    /// Step Functions executions, aliases and versions.
    type Executions: Executions;
    /// Batch jobs (how a task's job ended before its record says so).
    type Jobs: JobEnds;
    /// Metaflow's datastore (task logs), wherever the manifest's root points.
    type Datastore: Datastore;
}

/// What the handler needs: settings, the bucket, Step Functions, Batch and the datastore.
pub struct Deps<P: ApiPorts> {
    /// Settings.
    pub config: TriggerConfig,
    /// The deployment bucket.
    pub objects: P::Objects,
    /// Step Functions executions.
    pub executions: P::Executions,
    /// Batch jobs.
    pub jobs: P::Jobs,
    /// Metaflow's datastore.
    pub datastore: P::Datastore,
}

impl<P: ApiPorts> Deps<P> {
    /// The API over these services.
    pub fn new(
        config: TriggerConfig,
        objects: P::Objects,
        executions: P::Executions,
        jobs: P::Jobs,
        datastore: P::Datastore,
    ) -> Self {
        Self {
            config,
            objects,
            executions,
            jobs,
            datastore,
        }
    }
}

impl<P: ApiPorts> Clone for Deps<P>
where
    P::Objects: Clone,
    P::Executions: Clone,
    P::Jobs: Clone,
    P::Datastore: Clone,
{
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            objects: self.objects.clone(),
            executions: self.executions.clone(),
            jobs: self.jobs.clone(),
            datastore: self.datastore.clone(),
        }
    }
}

impl<P: ApiPorts> fmt::Debug for Deps<P>
where
    P::Objects: fmt::Debug,
    P::Executions: fmt::Debug,
    P::Jobs: fmt::Debug,
    P::Datastore: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deps")
            .field("config", &self.config)
            .field("objects", &self.objects)
            .field("executions", &self.executions)
            .field("jobs", &self.jobs)
            .field("datastore", &self.datastore)
            .finish()
    }
}
