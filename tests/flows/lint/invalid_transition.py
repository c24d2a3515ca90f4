# expect: Step start specifies an invalid self.next() transition. Make sure the self.next() expression matches with one of the supported transition types:\n  • Linear: self.next(self.step_name)\n  • Fan-out: self.next(self.step1, self.step2, ...)\n  • Foreach: self.next(self.step, foreach='variable')\n  • Switch: self.next({"key": self.step, ...}, condition='variable')\n\nFor switch statements, keys must be string literals, numbers or config expressions (self.config.key_name), not variables.
# line: 9
from metaflow import FlowSpec, step

class InvalidTransitionFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.a, self.b, foreach="items")

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
    InvalidTransitionFlow()
