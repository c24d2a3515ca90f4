//! The trigger Lambda: the trigger API ([`dropflow_api`]) over AWS. Thin by design: the
//! routes, runs, events and their tests live in `dropflow-api`; this crate only binds its
//! ports to the adapters of `dropflow-aws` ([`AwsPorts`], [`deps`]) for the Lambda's entry
//! point and for hosts of the handler (the CLI's local stack, the emulator tests).

mod aws_ports;

pub use aws_ports::{AwsDeps, AwsPorts, deps};
