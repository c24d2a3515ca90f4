from metaflow import FlowSpec, Parameter, step


class ResumeFlow(FlowSpec):
    """Fails in `total` until a fixed version (same graph) is deployed; then resumed."""

    size = Parameter("size", default=2)

    @step
    def start(self):
        self.numbers = list(range(1, self.size + 1))
        self.next(self.square, foreach="numbers")

    @step
    def square(self):
        self.value = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.squares = [i.value for i in inputs]
        self.numbers = inputs[0].numbers
        self.next(self.total)

    @step
    def total(self):
        raise ValueError("BROKEN")
        self.next(self.end)

    @step
    def end(self):
        self.doubled = self.sum * 2


if __name__ == "__main__":
    ResumeFlow()
