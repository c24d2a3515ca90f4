# expect: Ambiguous start step: step 'begin' is annotated with @step(start=True) but a step named 'start' also exists. Remove the 'start' name or the @step(start=True) annotation.
# line: none
from metaflow import FlowSpec, step

class AmbiguousStartFlow(FlowSpec):
    @step(start=True)
    def begin(self):
        self.next(self.start)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    AmbiguousStartFlow()
