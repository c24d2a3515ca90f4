use super::*;

const PARAMETER_FLOW: &str = r#"from metaflow import FlowSpec, Parameter, step

class ParameterFlow(FlowSpec):
    alpha = Parameter('alpha',
                      help='Learning rate',
                      default=0.01)

    @step
    def start(self):
        print('alpha is %f' % self.alpha)
        self.next(self.end)

    @step
    def end(self):
        print('alpha is still %f' % self.alpha)

if __name__ == '__main__':
    ParameterFlow()
"#;

fn only_flow(source: &str) -> FlowClass {
    let module = parse_module("flow.py", source).expect("parses");
    assert_eq!(module.flows.len(), 1, "one flow class");
    module.flows.into_iter().next().unwrap()
}

#[test]
fn reads_the_seed_parameter_flow() {
    let module = parse_module("parameter_flow.py", PARAMETER_FLOW).unwrap();
    assert_eq!(module.main_instantiations, vec!["ParameterFlow"]);
    let flow = &module.flows[0];
    assert_eq!(flow.name, "ParameterFlow");
    assert_eq!(flow.line, 3);
    let names: Vec<_> = flow.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["start", "end"]);
    let start = &flow.steps[0];
    assert_eq!(start.line, 9);
    assert_eq!(start.tail.line, 11);
    assert_eq!(start.tail.kind, Some(TransitionKind::Linear));
    assert_eq!(start.tail.out_funcs, ["end"]);
    assert!(!flow.steps[1].tail.has_tail_next);
    let alpha = &flow.parameters[0];
    assert_eq!(
        (alpha.attribute.as_str(), alpha.name.as_str()),
        ("alpha", "alpha")
    );
    assert_eq!(
        alpha.kwarg("default").unwrap().as_literal(),
        Some(&serde_json::json!(0.01))
    );
    assert_eq!(alpha.kwarg("help").unwrap().as_str(), Some("Learning rate"));
}

#[test]
fn types_every_transition_form() {
    let flow = only_flow(
        r#"
from metaflow import FlowSpec, step
class F(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.a, self.b)
    @step
    def a(self):
        self.next(self.each, foreach='items')
    @step
    def each(self):
        self.next(self.join_each)
    @step
    def join_each(self, inputs):
        self.next(self.sw)
    @step
    def sw(self):
        self.next({'x': self.x, 7: self.y, self.config.key: self.x}, condition='route')
    @step
    def par(self):
        self.next(self.x, num_parallel=4)
    @step
    def bad(self):
        self.next(self.a, self.b, foreach='items')
    @step
    def worse(self):
        self.next(a)
    @step
    def not_tail(self):
        self.next(self.a)
        print('after')
"#,
    );
    let step = |name: &str| flow.steps.iter().find(|s| s.name == name).unwrap();
    assert_eq!(step("start").tail.kind, Some(TransitionKind::Split));
    assert_eq!(step("a").tail.kind, Some(TransitionKind::Foreach));
    assert_eq!(step("a").tail.foreach_param.as_deref(), Some("items"));
    assert_eq!(step("join_each").tail.kind, Some(TransitionKind::Join));
    assert_eq!(step("join_each").num_args, 2);
    let sw = &step("sw").tail;
    assert_eq!(sw.kind, Some(TransitionKind::SplitSwitch));
    assert_eq!(sw.condition.as_deref(), Some("route"));
    assert_eq!(sw.switch_cases.get("7").map(String::as_str), Some("y"));
    assert_eq!(
        sw.switch_cases.get("config:config.key").map(String::as_str),
        Some("x")
    );
    assert!(step("par").tail.num_parallel.is_some());
    let bad = &step("bad").tail;
    assert!(bad.has_tail_next && bad.invalid_tail_next);
    let worse = &step("worse").tail;
    assert!(worse.has_tail_next && worse.invalid_tail_next);
    assert!(!step("not_tail").tail.has_tail_next);
}

#[test]
fn reads_decorators_with_literal_arguments() {
    let flow = only_flow(
        r#"
import metaflow
from metaflow import FlowSpec, step, schedule, project, retry, resources

@schedule(cron='0 10 * * ? *', timezone='Europe/Paris')
@project(name='demo')
class F(FlowSpec):
    @retry(times=2, minutes_between_retries=0)
    @resources(cpu=2, memory=-1)
    @metaflow.environment(vars={'A': 'x'})
    @step(start=True)
    def begin(self):
        self.next(self.finish)
    @step(end=True)
    def finish(self):
        pass
"#,
    );
    let schedule = flow.decorator("schedule").unwrap();
    assert_eq!(
        schedule.kwarg("timezone").unwrap().as_str(),
        Some("Europe/Paris")
    );
    assert_eq!(
        flow.decorator("project")
            .unwrap()
            .kwarg("name")
            .unwrap()
            .as_str(),
        Some("demo")
    );
    let begin = &flow.steps[0];
    assert!(begin.is_start_step && !begin.is_end_step);
    assert!(flow.steps[1].is_end_step);
    let names: Vec<_> = begin.decorators.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["retry", "resources", "environment"]);
    assert_eq!(
        begin
            .decorator("resources")
            .unwrap()
            .kwarg("memory")
            .unwrap()
            .as_literal(),
        Some(&serde_json::json!(-1))
    );
    assert_eq!(
        begin
            .decorator("environment")
            .unwrap()
            .kwarg("vars")
            .unwrap()
            .as_literal(),
        Some(&serde_json::json!({"A": "x"}))
    );
}

#[test]
fn reads_parameters_of_every_kind() {
    let module = parse_module(
        "flow.py",
        r#"
from metaflow import FlowSpec, Parameter, IncludeFile, Config, JSONType, step
import json
DEFAULT = 5

def deployment_info(context):
    return json.dumps({'who': context.user_name})

class F(FlowSpec):
    info = Parameter('deployment_info', type=JSONType, default=deployment_info)
    count = Parameter(name='count', default=DEFAULT, required=True)
    data = IncludeFile('data', default='data.csv')
    cfg = Config('cfg', default='config.json')
    label: str = Parameter('label', default=lambda ctx: 'x')
    @step
    def start(self):
        self.next(self.end)
    @step
    def end(self):
        pass
"#,
    )
    .unwrap();
    assert_eq!(module.constants.get("DEFAULT"), Some(&serde_json::json!(5)));
    assert_eq!(module.functions[0].name, "deployment_info");
    assert!(
        module.functions[0]
            .source
            .starts_with("def deployment_info(context):")
    );
    assert!(module.imports.contains(&"json".to_string()));
    let params = &module.flows[0].parameters;
    let kinds: Vec<_> = params.iter().map(|p| (p.name.as_str(), p.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("deployment_info", ParameterKind::Parameter),
            ("count", ParameterKind::Parameter),
            ("data", ParameterKind::IncludeFile),
            ("cfg", ParameterKind::Config),
            ("label", ParameterKind::Parameter),
        ]
    );
    assert_eq!(
        params[0].kwarg("default"),
        Some(&Value::Name {
            name: "deployment_info".into()
        })
    );
    assert_eq!(
        params[0].kwarg("type"),
        Some(&Value::Name {
            name: "JSONType".into()
        })
    );
    assert!(matches!(
        params[4].kwarg("default"),
        Some(Value::Lambda { .. })
    ));
}

#[test]
fn inherits_steps_from_same_file_flow_bases() {
    let module = parse_module(
        "flow.py",
        r#"
from metaflow import FlowSpec, step
class Base(FlowSpec):
    @step
    def start(self):
        self.next(self.end)
    @step
    def end(self):
        pass
class Child(Base):
    @step
    def end(self):
        print('child')
"#,
    )
    .unwrap();
    let child = &module.flows[1];
    assert_eq!(child.name, "Child");
    assert_eq!(child.steps.len(), 2);
    assert_eq!(child.steps[1].line, 12);
}

#[test]
fn syntax_errors_name_file_and_line() {
    let error = parse_module(
        "broken.py",
        "class F(FlowSpec):\n    def start(self)\n        pass\n",
    )
    .unwrap_err();
    assert_eq!(error.file, "broken.py");
    assert_eq!(error.line, 2);
    assert!(
        error
            .to_string()
            .starts_with("broken.py:2: Python syntax error")
    );
}

#[test]
fn parses_recent_syntax() {
    // PEP 701 f-strings and PEP 695 type parameters (3.12+).
    let module = parse_module(
        "flow.py",
        "from metaflow import FlowSpec, step\ntype Alias = int\nclass F(FlowSpec):\n    @step\n    def start(self):\n        print(f\"{'a' + f\"{1}\"}\")\n        self.next(self.end)\n    @step\n    def end(self):\n        pass\n",
    )
    .unwrap();
    assert_eq!(module.flows[0].steps.len(), 2);
}

#[test]
fn keeps_where_step_sits_among_the_decorators_and_decorated_plain_methods() {
    let flow = only_flow(
        r#"
from metaflow import FlowSpec, step, retry
class F(FlowSpec):
    @step
    @retry(times=2)
    def start(self):
        self.next(self.end)
    @staticmethod
    def helper():
        pass
    def undecorated(self):
        pass
    @step
    def end(self):
        pass
"#,
    );
    let start = &flow.steps[0];
    assert_eq!(start.step_line, 4);
    assert_eq!(start.decorators[0].line, 5, "@retry is below @step");
    assert_eq!(flow.steps[1].step_line, 13);
    let [helper] = flow.plain_methods.as_slice() else {
        panic!("{:?}", flow.plain_methods);
    };
    assert_eq!((helper.name.as_str(), helper.line), ("helper", 9));
    assert_eq!(helper.decorators[0].name, "staticmethod");
}

#[test]
fn attributes_metaflow_does_not_collect_are_kept_apart() {
    let flow = only_flow(
        r#"
from metaflow import FlowSpec, Parameter, step
class F(FlowSpec):
    name = Parameter('model_name', default='resnet')
    _token = Parameter('token')
    index = Parameter('index')
    visible = Parameter('visible', default=1)
    @step
    def start(self):
        self.next(self.end)
    @step
    def end(self):
        pass
"#,
    );
    let attributes = |defs: &[ParameterDef]| -> Vec<String> {
        defs.iter().map(|d| d.attribute.clone()).collect()
    };
    assert_eq!(attributes(&flow.parameters), ["visible"]);
    assert_eq!(
        attributes(&flow.ignored_parameters),
        ["name", "_token", "index"]
    );
    assert!(is_parameter_attribute("names") && !is_parameter_attribute("script_name"));
}

#[test]
fn parameter_calls_are_bound_like_python_binds_them() {
    let flow = only_flow(
        r#"
from metaflow import FlowSpec, Parameter, IncludeFile, Config, step
NAME = 'alpha'
class F(FlowSpec):
    a = Parameter(NAME, 0.5, float, 'Alpha')
    b = IncludeFile('data', True, False)
    c = Config('cfg', 'cfg.json')
    d = Parameter(default=3)
    e = Parameter('e', 1, default=2)
    f = Parameter('f', 1, 2, 3, 4, 5, 6)
    g = Parameter(make_name())
    h = Parameter(**OPTIONS)
    @step
    def start(self):
        self.next(self.end)
    @step
    def end(self):
        pass
"#,
    );
    let def = |attribute: &str| {
        flow.parameters
            .iter()
            .find(|p| p.attribute == attribute)
            .unwrap()
    };
    let a = def("a");
    assert_eq!((a.name.as_str(), &a.problem), ("alpha", &None));
    let names: Vec<_> = a.kwargs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["default", "type", "help"]);
    assert_eq!(a.kwarg("help").and_then(Value::as_str), Some("Alpha"));
    assert_eq!(
        def("b").kwarg("is_text").and_then(Value::as_bool),
        Some(false)
    );
    assert_eq!(
        def("c").kwarg("default").and_then(Value::as_str),
        Some("cfg.json")
    );
    let type_error = |attribute: &str| match &def(attribute).problem {
        Some(ParameterProblem::TypeError { message }) => message.clone(),
        other => panic!("{attribute}: {other:?}"),
    };
    assert_eq!(
        type_error("d"),
        "Parameter.__init__() missing 1 required positional argument: 'name'"
    );
    assert_eq!(
        type_error("e"),
        "Parameter.__init__() got multiple values for argument 'default'"
    );
    assert_eq!(
        type_error("f"),
        "Parameter.__init__() takes from 2 to 7 positional arguments but 8 were given"
    );
    assert_eq!(
        def("g").problem,
        Some(ParameterProblem::NameNotLiteral {
            source: "make_name()".into()
        })
    );
    assert_eq!(
        def("h").problem,
        Some(ParameterProblem::NameNotLiteral {
            source: "**OPTIONS".into()
        })
    );
}
