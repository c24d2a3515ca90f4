from metaflow import FlowSpec, Parameter, step


class ForeachFlow(FlowSpec):
    width = Parameter("width", default=7, help="How many squares")

    @step
    def start(self):
        self.numbers = list(range(1, self.width + 1))
        self.next(self.square, foreach="numbers")

    @step
    def square(self):
        self.value = self.input * self.input
        self.next(self.collect)

    @step
    def collect(self, inputs):
        self.squares = [i.value for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print(self.squares)


if __name__ == "__main__":
    ForeachFlow()
