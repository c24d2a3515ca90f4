//! Amazon States Language as typed serde structs, and checks of the AWS limits that a
//! definition must meet before Step Functions sees it.
//!
//! Only the parts of ASL that dropflow emits are modelled. Payload templates (the
//! `Parameters`, `ItemSelector` and `ResultSelector` fields, whose keys ending in `.$`
//! are JSONPaths) are built with [`Template`].

mod model;
mod template;
mod validate;

pub use model::{
    Branch, CatchRule, ChoiceRule, ChoiceState, FailState, ItemProcessor, ItemReader, MapState,
    Mode, ParallelState, ProcessorConfig, ReaderConfig, ResultPath, ResultWriter, RetryRule, State,
    StateMachine, States, SucceedState, TaskState, Transition, WaitState,
};
pub use template::Template;
pub use validate::{AslLimitError, MAX_DEFINITION_BYTES, MAX_STATE_NAME_CHARS, check_limits};
