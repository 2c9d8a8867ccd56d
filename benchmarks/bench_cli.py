"""Wall time of the ``fastml`` command: ``fastml --help``, and ``fastml demo`` cold and warm.

Run: ``python benchmarks/bench_cli.py [--quick] [--case tabular|spam]``. Each measurement is a fresh
subprocess (``python -m fastml``). Cold = an empty ``NUMBA_CACHE_DIR`` (every kernel the demo uses is
compiled); warm = the same directory again (kernels loaded from the cache).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def timed(args, env, repeat=1):
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "fastml", *args], env=env, capture_output=True, text=True)
        seconds.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"fastml {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="time `fastml demo --quick`")
    parser.add_argument("--case", default="tabular", choices=("tabular", "spam"))
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        help_times = timed(["--help"], env, repeat=5)
        demo = ["demo", "--case", options.case, "--out", out] + (["--quick"] if options.quick else [])
        cold = timed(demo, env)[0]
        warm = timed(demo, env, repeat=2)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(f"fastml --help: median {statistics.median(help_times):.3f} s (min {min(help_times):.3f} s, 5 runs)")
    label = f"fastml demo --case {options.case}{' --quick' if options.quick else ''}"
    print(f"{label}: cold {cold:.1f} s (empty Numba cache), warm {min(warm):.1f} s (best of 2)")


if __name__ == "__main__":
    main()
