from metaflow import FlowSpec, step


class SwitchInForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.classify, foreach="items")

    @step
    def classify(self):
        self.n = self.input
        self.kind = "even" if self.n % 2 == 0 else "odd"
        self.next({"even": self.even, "odd": self.odd}, condition="kind")

    @step
    def even(self):
        self.label = "even-%d" % self.n
        self.next(self.tidy)

    @step
    def odd(self):
        self.label = "odd-%d" % self.n
        self.next(self.tidy)

    @step
    def tidy(self):
        self.next(self.collect)

    @step
    def collect(self, inputs):
        self.labels = sorted(i.label for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print(self.labels)


if __name__ == "__main__":
    SwitchInForeachFlow()
