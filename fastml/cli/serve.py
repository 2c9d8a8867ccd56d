"""``fastml serve MODEL``: the HTTP model server (``fastml.serving.serve``; needs the ``serve`` extra)."""
import os

from ._output import CommandError, emit_json, say


def register(subcommands, common):
    serve = subcommands.add_parser(
        "serve", parents=[common], help="serve a model over HTTP (FastAPI + uvicorn, extra 'serve')",
        description="Serve MODEL: POST /predict and /invocations (MLflow payloads), GET /health, /ready, "
                    "/metadata, /metrics. Loopback by default.")
    serve.add_argument("model")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1; started with spawn)")
    serve.set_defaults(handler=run_serve)


def run_serve(args):
    if not os.path.isfile(args.model):
        raise CommandError(f"no such model file: {args.model!r}")
    if not 0 < args.port < 65536:
        raise CommandError(f"--port must be in 1..65535, got {args.port}")
    try:
        from ..serving import serve
    except ImportError as exc:
        raise CommandError(f"serving needs the 'serve' extra: python -m pip install -e \".[serve]\" ({exc})") \
            from None
    if args.json:
        emit_json({"serving": args.model, "url": f"http://{args.host}:{args.port}"})
    else:
        say(f"serving {args.model} on http://{args.host}:{args.port} (Ctrl-C to stop)")
    serve(args.model, host=args.host, port=args.port, workers=args.workers)
    return 0
