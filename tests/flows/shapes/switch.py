from metaflow import FlowSpec, Parameter, step


class SwitchFlow(FlowSpec):
    route = Parameter("route", default="large", help="Which branch to take")

    @step
    def start(self):
        self.choice = self.route
        self.next({"large": self.large, "small": self.small}, condition="choice")

    @step
    def large(self):
        self.size = "L"
        self.next(self.end)

    @step
    def small(self):
        self.size = "S"
        self.next(self.end)

    @step
    def end(self):
        print(self.size)


if __name__ == "__main__":
    SwitchFlow()
