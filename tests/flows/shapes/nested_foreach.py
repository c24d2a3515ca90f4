from metaflow import FlowSpec, step


class NestedForeachFlow(FlowSpec):
    @step
    def start(self):
        self.outer = ["a", "b"]
        self.next(self.level1, foreach="outer")

    @step
    def level1(self):
        self.letter = self.input
        self.inner = [1, 2]
        self.next(self.level2, foreach="inner")

    @step
    def level2(self):
        self.pair = "%s%d" % (self.letter, self.input)
        self.next(self.join2)

    @step
    def join2(self, inputs):
        self.pairs = [i.pair for i in inputs]
        self.next(self.join1)

    @step
    def join1(self, inputs):
        self.pairs = [p for i in inputs for p in i.pairs]
        self.next(self.end)

    @step
    def end(self):
        print(self.pairs)


if __name__ == "__main__":
    NestedForeachFlow()
