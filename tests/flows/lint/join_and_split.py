# expect: Step both is both a join step (it takes an extra argument) and a split step (it transitions to multiple steps). This is not allowed. Add a new step so that split and join become separate steps.
# line: 19
from metaflow import FlowSpec, step

class JoinAndSplitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.both)

    @step
    def b(self):
        self.next(self.both)

    @step
    def both(self, inputs):
        self.next(self.c, self.d)

    @step
    def c(self):
        self.next(self.join)

    @step
    def d(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    JoinAndSplitFlow()
