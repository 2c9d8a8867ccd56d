"""Fixtures shared by every test directory."""
import multiprocessing

import pytest


def _call_into_queue(queue, target):
    queue.put(target())


@pytest.fixture
def run_in_forked_child():
    """``run(target, timeout)``: ``target()`` (a module-level function) in a child process started by
    ``fork``, multiprocessing's default on Linux; returns what it returned. Fails the test when the
    child hangs (it is killed) or dies: forked children inherit thread pools without their threads."""
    def run(target, timeout=60):
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=_call_into_queue, args=(queue, target))
        child.start()
        child.join(timeout)
        hung = child.is_alive()
        if hung:
            child.kill()
        assert not hung, f"{target.__name__} hung in the forked child"
        assert child.exitcode == 0, f"the forked child running {target.__name__} died (exit code {child.exitcode})"
        return queue.get(timeout=5)

    return run
