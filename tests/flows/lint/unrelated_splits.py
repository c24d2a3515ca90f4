# expect: Step inner_join joins steps from unrelated splits. Ensure that there is a matching join for every split.
# line: 23
from metaflow import FlowSpec, step

class UnrelatedSplitsFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.x, self.y)

    @step
    def x(self):
        self.next(self.inner_join)

    @step
    def y(self):
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.next(self.join)

    @step
    def b(self):
        self.items = [1, 2]
        self.next(self.y, foreach="items")

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UnrelatedSplitsFlow()
