# expect: Step name cmd is a reserved word. Choose another name for the step.
# line: 11
from metaflow import FlowSpec, step

class ReservedWordFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.cmd)

    @step
    def cmd(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ReservedWordFlow()
