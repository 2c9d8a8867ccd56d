"""Python thread pools that survive ``fork``. No Numba here: the drift fingerprint imports it at start-up.

A forked child (multiprocessing's default start method on Linux) inherits a ThreadPoolExecutor object
but none of its threads, and work submitted to it there waits forever: a Ridge fit of more than 2e6
values in a worker, after one in the parent, hung. Each pool is therefore forgotten in the child and
built again on first use.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor


class LazyThreadPool:
    """A ThreadPoolExecutor built on first use, rebuilt when more workers are asked for than it has,
    and forgotten in a forked child."""

    def __init__(self, thread_name_prefix):
        self.thread_name_prefix = thread_name_prefix
        self._forget()
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self):
        self.current = None  # the executor, None until first used
        self._lock = threading.Lock()

    def executor(self, workers):
        """The pool, with at least ``workers`` threads."""
        with self._lock:
            if self.current is None or self.current._max_workers < workers:
                self.current = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=self.thread_name_prefix)
            return self.current
