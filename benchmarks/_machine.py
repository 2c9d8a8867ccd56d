"""What machine a benchmark ran on: printed at the top of every report (ratios need the machine)."""
import os
import platform


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (Linux), else what platform reports."""
    try:
        with open("/proc/cpuinfo") as handle:
            return next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def available_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count()


def describe_machine():
    return f"{cpu_model()}, {available_cores()} cores available, {platform.system()} {platform.release()}"
