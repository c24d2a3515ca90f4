# expect: There is a loop in your flow: b->a->b. Break the loop by fixing self.next() transitions.
# line: 12
from metaflow import FlowSpec, step

class LoopFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):
        self.next(self.b)

    @step
    def b(self):
        self.next(self.a)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LoopFlow()
