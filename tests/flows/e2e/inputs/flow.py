"""A flow that reads its package at deploy time: a Config used by decorators and a
parameter default, and an IncludeFile whose content becomes the `rows` artifact."""

from metaflow import Config, FlowSpec, IncludeFile, Parameter, environment, resources, step


class InputsFlow(FlowSpec):
    settings = Config("settings", default="settings.json")
    rows = IncludeFile("rows", default="data/rows.csv", help="input rows")
    scale = Parameter("scale", default=settings.scale)

    @environment(vars={"GREETING": settings.greeting})
    @resources(cpu=settings.cpu)
    @step
    def start(self):
        import os

        self.greeting = os.environ.get("GREETING")
        self.lines = self.rows.strip().splitlines()
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(int(line.split(",")[1]) for line in self.lines[1:]) * self.scale
        self.mode = self.settings.mode


if __name__ == "__main__":
    InputsFlow()
