from metaflow import FlowSpec, step


class ForeachInSwitchFlow(FlowSpec):
    @step
    def start(self):
        self.mode = "fan"
        self.next({"fan": self.fan, "skip": self.skip}, condition="mode")

    @step
    def fan(self):
        self.items = ["x", "y"]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.item = self.input.upper()
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.items = [i.item for i in inputs]
        self.next(self.split)

    @step
    def split(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.rejoin)

    @step
    def b(self):
        self.next(self.rejoin)

    @step
    def rejoin(self, inputs):
        self.items = inputs[0].items
        self.next(self.end)

    @step
    def skip(self):
        self.items = []
        self.next(self.end)

    @step
    def end(self):
        print(self.items)


if __name__ == "__main__":
    ForeachInSwitchFlow()
