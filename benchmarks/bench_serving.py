"""Model server throughput and latency on loopback: 1, 8 and 32 concurrent clients, single-row requests.

Usage::

    python benchmarks/bench_serving.py [--seconds S] [--clients 1 8 32] [--n-features P] [--workers W]

A ``LogisticRegression`` (3 classes, ``P`` = 20 features by default) is saved to a temporary file and
served by ``fastml.serving.serve`` in a subprocess (one uvicorn worker unless ``--workers``), so that the
server does not share a GIL with the clients. Each client is one keep-alive connection (all driven by
one asyncio loop in this process) sending ``{"instances": [row]}`` to ``POST /predict`` back to back; for each
concurrency level the clients run ``S`` seconds (after a short warm-up) and every latency is recorded.
Reported: requests per second, p50 / p99 / max latency in ms, errors. Target: p99 <= 50 ms at 32
clients. The clients run on the same machine as the server (on a 2-core machine they take a good share
of the CPU), so the numbers are a lower bound of what the server alone would do. Prints the machine.
"""
import argparse
import asyncio
import http.client
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
from _machine import available_cores, cpu_model  # benchmarks/ is on sys.path when run as a script


def machine():
    import fastapi
    import uvicorn

    return (f"{cpu_model()}, {available_cores()} cores usable; Python {platform.python_version()}, "
            f"fastapi {fastapi.__version__}, uvicorn {uvicorn.__version__}")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(port, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/ready")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server not ready after {timeout} s")


def run_level(port, n_clients, seconds, rows):
    """``n_clients`` keep-alive connections driven by one asyncio loop (no client threads: 32 Python threads
    fighting for the GIL would add their own waits to the measured latency)."""
    return asyncio.run(_run_level(port, n_clients, seconds, rows))


async def _run_level(port, n_clients, seconds, rows):
    latencies = [[] for _ in range(n_clients)]
    errors = [0] * n_clients

    def request(row):
        body = json.dumps({"instances": [row]}).encode()
        return (b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)

    async def client(k, stop_at):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        messages = [request(row) for row in rows[k::n_clients][:64]]
        i = 0
        while time.perf_counter() < stop_at:
            began = time.perf_counter()
            writer.write(messages[i % len(messages)])
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                errors[k] += 1
            latencies[k].append(time.perf_counter() - began)
            i += 1
        writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(client(k, began + seconds) for k in range(n_clients)))
    elapsed = time.perf_counter() - began
    all_latencies = np.concatenate([np.asarray(l) for l in latencies]) * 1000.0
    return {"clients": n_clients, "requests": all_latencies.size, "rps": all_latencies.size / elapsed,
            "p50_ms": float(np.percentile(all_latencies, 50)), "p99_ms": float(np.percentile(all_latencies, 99)),
            "max_ms": float(all_latencies.max()), "errors": sum(errors)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--n-features", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    import fastml

    print(machine())
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, args.n_features))
    y = np.digitize(X[:, 0] + 0.3 * rng.standard_normal(2000), [-0.5, 0.5])
    model = fastml.LogisticRegression().fit(X, y)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.fastml")
        fastml.save(model, path)
        port = free_port()
        code = (f"from fastml.serving import serve; serve({path!r}, port={port}, workers={args.workers}, "
                "log_level='warning')")
        server = subprocess.Popen([sys.executable, "-c", code])
        try:
            began = time.perf_counter()
            wait_ready(port)
            print(f"server ready in {time.perf_counter() - began:.2f} s (workers={args.workers}); "
                  f"model LogisticRegression, {args.n_features} features, 3 classes; single-row requests, "
                  f"{args.seconds:g} s per level")
            rows = X[:2048].tolist()
            run_level(port, 4, 0.5, rows)  # warm-up: connections, threadpool, caches
            print(f"{'clients':>7} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>6}")
            for n_clients in args.clients:
                r = run_level(port, n_clients, args.seconds, rows)
                print(f"{r['clients']:>7} {r['requests']:>9} {r['rps']:>8.0f} {r['p50_ms']:>8.2f} "
                      f"{r['p99_ms']:>8.2f} {r['max_ms']:>8.2f} {r['errors']:>6}")
        finally:
            server.terminate()
            server.wait(timeout=20)


if __name__ == "__main__":
    main()
