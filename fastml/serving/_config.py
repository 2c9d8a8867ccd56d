"""``ServerConfig``: the limits and settings of one model server, in one frozen dataclass."""
import dataclasses
import numbers

DEFAULT_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """Limits and settings of the model server.

    Parameters
    ----------
    max_body_bytes : int, default 4 MiB
        Largest request body accepted (checked on ``Content-Length`` and on the bytes actually read);
        larger bodies get 413.
    max_rows : int, default 10 000
        Most rows in one scoring request; more get 413.
    drift_window : int, default 5 000
        Served rows kept (most recent first out) for the drift gauges of ``/metrics``; 0 turns the drift
        gauges off. The rows are kept as received, so the memory is about ``drift_window`` x row size.
    drift_min_rows : int, default 100
        Fewest rows in the window before drift gauges are exported (fewer say nothing useful).
    latency_buckets : tuple of float
        Upper bounds in seconds of the request latency histogram (``+Inf`` is added).
    load_timeout_s : float, default 300
        How long a scoring request received while the model is still loading waits before 503.
    scoring_threads : int, default 4
        Requests scored at the same time in one process (a thread pool of its own; the others wait in
        FIFO order). More threads than cores only add GIL hand-offs: with 40 threads (the default pool)
        the p99 latency at 32 concurrent clients was several times higher on 2 cores.
    """

    max_body_bytes: int = 4 * 1024 * 1024
    max_rows: int = 10_000
    drift_window: int = 5_000
    drift_min_rows: int = 100
    latency_buckets: tuple = DEFAULT_LATENCY_BUCKETS
    load_timeout_s: float = 300.0
    scoring_threads: int = 4

    def __post_init__(self):
        for name in ("max_body_bytes", "max_rows", "scoring_threads"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ServerConfig.{name} must be a positive int, got {value!r}")
        for name in ("drift_window", "drift_min_rows"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
                raise ValueError(f"ServerConfig.{name} must be a non-negative int, got {value!r}")
        buckets = tuple(float(b) for b in self.latency_buckets)
        if not buckets or any(b <= 0 for b in buckets) or list(buckets) != sorted(set(buckets)):
            raise ValueError("ServerConfig.latency_buckets must be positive, increasing and not empty, got "
                             f"{self.latency_buckets!r}")
        object.__setattr__(self, "latency_buckets", buckets)
        if not isinstance(self.load_timeout_s, numbers.Real) or not self.load_timeout_s > 0:
            raise ValueError(f"ServerConfig.load_timeout_s must be > 0, got {self.load_timeout_s!r}")

    def to_dict(self):
        """Plain JSON values (how ``serve`` hands the config to spawned workers)."""
        return {**dataclasses.asdict(self), "latency_buckets": list(self.latency_buckets)}

    @classmethod
    def from_dict(cls, values):
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown ServerConfig fields: {unknown}")
        return cls(**{key: tuple(v) if key == "latency_buckets" else v for key, v in values.items()})
