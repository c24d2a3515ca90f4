# expect: Step start is a switch split but defines 1 transitions. Switch splits must define at least 2 transitions.
# line: 7
from metaflow import FlowSpec, step

class SwitchOneCaseFlow(FlowSpec):
    @step
    def start(self):
        self.route = "only"
        self.next({"only": self.work}, condition="route")

    @step
    def work(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchOneCaseFlow()
