//! Why a flow's `@trigger` or `@trigger_on_finish` cannot be deployed. The texts are
//! Metaflow's (`events_decorator.py` and the Argo compiler's `_process_triggers`), without
//! the `*name*` markers its CLI renders in bold.

/// A `@trigger` / `@trigger_on_finish` Metaflow (or dropflow) refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    /// Metaflow's decorators take keyword arguments only.
    #[error("@{decorator}({found}): @{decorator} takes keyword arguments only, e.g. {example}")]
    PositionalArgument {
        /// `trigger` or `trigger_on_finish`.
        decorator: &'static str,
        /// The argument as written.
        found: String,
        /// A call that works.
        example: &'static str,
    },
    /// An attribute the decorator does not have (Metaflow's `InvalidDecoratorAttribute`).
    #[error(
        "Decorator '{decorator}' does not support the attribute '{argument}'. These attributes are supported: {supported}."
    )]
    UnknownArgument {
        /// `trigger` or `trigger_on_finish`.
        decorator: &'static str,
        /// The keyword argument.
        argument: String,
        /// The attributes it has.
        supported: &'static str,
    },
    /// A value only Python can compute (a deploy-time function, `namespaced_event_name`).
    #[error(
        "@{decorator}({argument}=...) is `{found}`, which dropflow cannot evaluate without running Python (deploy-time event names and functions are not supported yet); write it as a literal, e.g. {example}"
    )]
    NotLiteral {
        /// `trigger` or `trigger_on_finish`.
        decorator: &'static str,
        /// The attribute.
        argument: &'static str,
        /// The expression as written.
        found: String,
        /// A literal that works.
        example: &'static str,
    },
    /// Metaflow: both `event` and `events`, or both `flow` and `flows`.
    #[error("Specify only one of {one} or {other} attributes in @{decorator} decorator.")]
    BothAttributes {
        /// `trigger` or `trigger_on_finish`.
        decorator: &'static str,
        /// `event` or `flow`.
        one: &'static str,
        /// `events` or `flows`.
        other: &'static str,
    },
    /// Metaflow: an event dict without `name`.
    #[error("The event attribute for @trigger is missing the name key.")]
    EventMissingName,
    /// Metaflow: an event that is neither a string nor a dict.
    #[error(
        "Incorrect format for event attribute in @trigger decorator. Supported formats are string and dictionary - @trigger(event='foo') or @trigger(event={{'name': 'foo', 'parameters': {{'alpha': 'beta'}}}})"
    )]
    BadEvent,
    /// Metaflow: `events` that is not a list.
    #[error(
        "Incorrect format for events attribute in @trigger decorator. Supported format is list - @trigger(events=[{{'name': 'foo', 'parameters': {{'alpha': 'beta'}}}}, {{'name': 'bar', 'parameters': {{'gamma': 'kappa'}}}}])"
    )]
    BadEvents,
    /// Metaflow: a pair in a `parameters` list that is not two strings.
    #[error(
        "The parameters attribute for event {event} is invalid. It should be a list/tuple of strings and lists/tuples of size 2."
    )]
    BadParameterList {
        /// The event name.
        event: String,
    },
    /// Metaflow: a `parameters` list entry that is neither a string nor a pair.
    #[error(
        "The parameters attribute for event is invalid. It should be a list/tuple of strings and lists/tuples of size 2 (event {event})"
    )]
    BadParameterEntry {
        /// The event name.
        event: String,
    },
    /// Metaflow: a `parameters` dict with a key or value that is not a string.
    #[error(
        "The parameters attribute for event {event} is invalid. It should be a dictionary of string keys and string values."
    )]
    BadParameterDict {
        /// The event name.
        event: String,
    },
    /// Metaflow: `@trigger` with no event.
    #[error("No event(s) specified in @trigger decorator.")]
    NoEvents,
    /// Metaflow: the same event name twice.
    #[error("Duplicate event names defined in @trigger decorator.")]
    DuplicateEvents,
    /// Metaflow (Argo): an event name outside `[A-Za-z0-9_.-]`.
    #[error(
        "Invalid event name {name} in @trigger decorator. Only alphanumeric characters, underscores(_), dashes(-) and dots(.) are allowed."
    )]
    BadEventName {
        /// The name.
        name: String,
    },
    /// Metaflow (Argo): a payload field outside `[A-Za-z0-9_]`.
    #[error(
        "Invalid event payload key {field} for event {event} in @trigger decorator. Only alphanumeric characters and underscores(_) are allowed."
    )]
    BadPayloadKey {
        /// The payload field.
        field: String,
        /// The event name.
        event: String,
    },
    /// Metaflow (Argo): a mapping to a parameter the flow does not have.
    #[error(
        "Parameter {parameter} defined in the event mappings for @trigger decorator not found in the flow. The flow's parameters: {valid}."
    )]
    UnknownParameter {
        /// The parameter named in the mapping.
        parameter: String,
        /// The flow's parameters, comma-separated (or `none`).
        valid: String,
    },
    /// Metaflow (Argo): one parameter mapped twice.
    #[error(
        "Duplicate entries for parameter {parameter} defined in the event mappings for @trigger decorator."
    )]
    DuplicateParameter {
        /// The parameter (lower case, as Metaflow reports it).
        parameter: String,
    },
    /// Metaflow (Argo): both decorators on one flow.
    #[error(
        "dropflow doesn't support both @trigger and @trigger_on_finish decorators concurrently yet. Use one or the other for now."
    )]
    BothDecorators,
    /// Metaflow: `flows` that is not a list.
    #[error(
        "Incorrect type for flows attribute in @trigger_on_finish decorator. Supported type is list - @trigger_on_finish(flows=['FooFlow', 'BarFlow'])"
    )]
    BadFlows,
    /// Metaflow: a flow dict without `name`.
    #[error("{0}")]
    FlowMissingName(&'static str),
    /// Metaflow: a flow dict whose `name` is not a plain flow name.
    #[error("The name attribute of the flow {name} is not a valid string")]
    BadFlowDictName {
        /// The name as written.
        name: String,
    },
    /// Metaflow: a flow dict's `project` or `project_branch` that is not a string.
    #[error("The {attribute} attribute of the flow {flow} is not a string")]
    FlowAttributeNotString {
        /// `project` or `project_branch`.
        attribute: &'static str,
        /// The flow.
        flow: String,
    },
    /// Metaflow: a flow that is neither a string nor a dict.
    #[error("{0}")]
    BadFlow(&'static str),
    /// Metaflow: `@trigger_on_finish` with no flow.
    #[error("No flow(s) specified in @trigger_on_finish decorator.")]
    NoFlows,
    /// Metaflow: `a.b` (neither a flow name nor `project.branch.flow`).
    #[error(
        "Incorrect format for flow in @trigger_on_finish decorator. Specify either just the flow_name or a fully qualified name like project_name.branch_name.flow_name."
    )]
    BadQualifiedName,
    /// Metaflow: a flow name outside `[A-Za-z0-9_]`.
    #[error(
        "Invalid flow name {flow} in @trigger_on_finish decorator. Only alphanumeric characters and underscores(_) are allowed."
    )]
    BadFlowName {
        /// The flow name.
        flow: String,
    },
    /// Metaflow (Argo): a project without a branch or a branch without a project.
    #[error(
        "Incomplete project info. Please specify both 'project' and 'project_branch' or use the @project decorator"
    )]
    IncompleteProject,
}

impl TriggerError {
    /// A stable code for reports.
    pub fn code(&self) -> &'static str {
        match self {
            TriggerError::PositionalArgument { .. } => "trigger.positional_argument",
            TriggerError::UnknownArgument { .. } => "trigger.unknown_argument",
            TriggerError::NotLiteral { .. } => "trigger.not_literal",
            TriggerError::BothAttributes { .. } => "trigger.both_attributes",
            TriggerError::EventMissingName => "trigger.event_missing_name",
            TriggerError::BadEvent => "trigger.bad_event",
            TriggerError::BadEvents => "trigger.bad_events",
            TriggerError::BadParameterList { .. }
            | TriggerError::BadParameterEntry { .. }
            | TriggerError::BadParameterDict { .. } => "trigger.bad_parameters",
            TriggerError::NoEvents => "trigger.no_events",
            TriggerError::DuplicateEvents => "trigger.duplicate_events",
            TriggerError::BadEventName { .. } => "trigger.bad_event_name",
            TriggerError::BadPayloadKey { .. } => "trigger.bad_payload_key",
            TriggerError::UnknownParameter { .. } => "trigger.unknown_parameter",
            TriggerError::DuplicateParameter { .. } => "trigger.duplicate_parameter",
            TriggerError::BothDecorators => "trigger.both_decorators",
            TriggerError::BadFlows => "trigger.bad_flows",
            TriggerError::FlowMissingName(_) => "trigger.flow_missing_name",
            TriggerError::BadFlowDictName { .. } => "trigger.bad_flow_dict_name",
            TriggerError::FlowAttributeNotString { .. } => "trigger.flow_attribute_not_string",
            TriggerError::BadFlow(_) => "trigger.bad_flow",
            TriggerError::NoFlows => "trigger.no_flows",
            TriggerError::BadQualifiedName => "trigger.bad_qualified_name",
            TriggerError::BadFlowName { .. } => "trigger.bad_flow_name",
            TriggerError::IncompleteProject => "trigger.incomplete_project",
        }
    }
}
