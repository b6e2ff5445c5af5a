"""What a comparison prints while it runs: one line per finished training and, on a terminal, one
progress bar over all trainings with the time left."""

import sys
import time


def _clock(seconds):
    seconds = int(round(seconds))
    return (
        f"{seconds // 3600}h{seconds // 60 % 60:02d}m"
        if seconds >= 3600
        else f"{seconds // 60}m{seconds % 60:02d}s"
    )


class Progress:
    """`started(i, total, label)` before a training, `finished(label, record, metric)` after it. The
    time left is the mean time of the trainings finished in this process times those left."""

    def __init__(self, stream=None, width=30):
        self.stream = stream or sys.stdout
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.width = width
        self.durations = []
        self.done = self.total = 0

    def _bar(self):
        if not self.tty or not self.total:
            return
        filled = int(self.width * self.done / self.total)
        left = (
            f", about {_clock(sum(self.durations) / len(self.durations) * (self.total - self.done))} left"
            if self.durations
            else ""
        )
        bar = "=" * filled + (">" if filled < self.width else "") + " " * max(0, self.width - filled - 1)
        self.stream.write(f"\r\033[K[{bar}] {self.done}/{self.total} trainings{left}")
        self.stream.flush()

    def started(self, done, total):
        self.done, self.total = done, total
        self.start = time.perf_counter()
        self._bar()

    def finished(self, label, seed, record, metric):
        self.durations.append(time.perf_counter() - self.start)
        self.done += 1
        epochs = record["epochs"]
        val = epochs[-1]["val_metric"] if epochs else None
        test = record["test_metric"]
        parts = [f"[{self.done}/{self.total}] {label}, seed {seed}:"]
        parts.append(f"val {metric} {'n/a' if val is None else f'{val:.4g}'}")
        if test is not None:
            parts.append(f"test {test:.4g}")
        if record.get("peak_lr") is not None:
            parts.append(f"peak {record['peak_lr']:.3g}")
        if record.get("guard"):
            parts.append(f"guard chose {record['guard']['chose']}")
        if record["diverged_step"] is not None:
            parts.append(f"diverged at step {record['diverged_step']}")
        parts.append(f"{self.durations[-1]:.1f} s")
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(" ".join(parts[:1]) + " " + ", ".join(parts[1:]) + "\n")
        self.stream.flush()
        self._bar()

    def close(self):
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()
