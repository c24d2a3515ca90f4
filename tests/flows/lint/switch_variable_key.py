# expect: Step start specifies an invalid self.next() transition. Make sure the self.next() expression matches with one of the supported transition types:\n  • Linear: self.next(self.step_name)\n  • Fan-out: self.next(self.step1, self.step2, ...)\n  • Foreach: self.next(self.step, foreach='variable')\n  • Switch: self.next({"key": self.step, ...}, condition='variable')\n\nFor switch statements, keys must be string literals, numbers or config expressions (self.config.key_name), not variables.
# line: 10
from metaflow import FlowSpec, step

class SwitchVariableKeyFlow(FlowSpec):
    @step
    def start(self):
        key = "a"
        self.route = "a"
        self.next({key: self.a, "b": self.b}, condition="route")

    @step
    def a(self):
        self.next(self.end)

    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchVariableKeyFlow()
