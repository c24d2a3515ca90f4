from metaflow import FlowSpec, step


class BranchInForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.fan, foreach="items")

    @step
    def fan(self):
        self.n = self.input
        self.next(self.double, self.triple)

    @step
    def double(self):
        self.v = self.n * 2
        self.next(self.merge)

    @step
    def triple(self):
        self.v = self.n * 3
        self.next(self.merge)

    @step
    def merge(self, inputs):
        self.total = sum(i.v for i in inputs)
        self.next(self.collect)

    @step
    def collect(self, inputs):
        self.totals = [i.total for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print(self.totals)


if __name__ == "__main__":
    BranchInForeachFlow()
