from metaflow import (
    FlowSpec, step, retry, catch, timeout, resources, batch, environment, Parameter
)


class DecoratorsFlow(FlowSpec):
    count = Parameter("count", default=3, type=int)
    label = Parameter("label", default="corpus")
    verbose = Parameter("verbose", default=False, type=bool)

    @environment(vars={"ENV_A": "a", "ENV_B": "2"})
    @resources(cpu=2, memory=8192)
    @step
    def start(self):
        import os
        self.env_a = os.environ.get("ENV_A")
        self.next(self.fragile)

    @catch(var="err")
    @retry(times=2, minutes_between_retries=0)
    @step
    def fragile(self):
        if True:
            raise ValueError("always fails")
        self.next(self.slow)

    @timeout(minutes=10)
    @batch(cpu=4, memory=1024, gpu=1, image="python:3.12-slim", queue="gpu-queue")
    @step
    def slow(self):
        self.next(self.end)

    @step
    def end(self):
        print(self.env_a)


if __name__ == "__main__":
    DecoratorsFlow()
