from metaflow import FlowSpec, current, retry, step


class RetryOnceFlow(FlowSpec):
    """`flaky` fails its first attempt and succeeds on the second (its retry)."""

    @step
    def start(self):
        self.next(self.flaky)

    @retry(times=1, minutes_between_retries=0)
    @step
    def flaky(self):
        if current.retry_count == 0:
            raise RuntimeError("first attempt fails on purpose")
        self.succeeded_on = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        print("succeeded on attempt", self.succeeded_on)


if __name__ == "__main__":
    RetryOnceFlow()
