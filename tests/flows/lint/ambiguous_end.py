# expect: Ambiguous end step: step 'finish' is annotated with @step(end=True) but a step named 'end' also exists. Remove the 'end' name or the @step(end=True) annotation.
# line: none
from metaflow import FlowSpec, step

class AmbiguousEndFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        self.next(self.finish)

    @step(end=True)
    def finish(self):
        pass


if __name__ == "__main__":
    AmbiguousEndFlow()
