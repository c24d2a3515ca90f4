# expect: Multiple steps annotated with @step(start=True): first, second. Exactly one is allowed.
# line: none
from metaflow import FlowSpec, step

class MultipleStartFlow(FlowSpec):
    @step(start=True)
    def first(self):
        self.next(self.end)

    @step(start=True)
    def second(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MultipleStartFlow()
