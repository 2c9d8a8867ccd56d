"""``serve``: run the model server with uvicorn, one process or several spawned workers.

Design: with ``workers=1`` the app is built here and run in this process. With more, uvicorn needs an
import string: it binds the socket in this (supervisor) process and starts each worker with
``multiprocessing.get_context("spawn")`` (fork + exec of a fresh interpreter, checked in uvicorn's
``_subprocess.py``), so no worker inherits Numba's or OpenMP's thread state. Each worker then calls
:func:`app_from_environment`, which reads the model path and the config from environment variables set
here, and loads and warms up its own copy of the model. The supervisor itself never loads the model
(only :func:`fastml.inspect`, to fail early on a bad file) and never runs a kernel.
"""
import ipaddress
import json
import logging
import os
import warnings

from ._config import ServerConfig

MODEL_ENV = "FASTML_SERVE_MODEL"
CONFIG_ENV = "FASTML_SERVE_CONFIG"
logger = logging.getLogger("fastml.serving")


def is_loopback(host):
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def app_from_environment():
    """App factory for uvicorn workers: the model file and config come from the environment."""
    from ._app import create_app

    path = os.environ.get(MODEL_ENV)
    if not path:
        raise RuntimeError(f"{MODEL_ENV} is not set: app_from_environment is meant for workers started by serve")
    config = ServerConfig.from_dict(json.loads(os.environ[CONFIG_ENV])) if os.environ.get(CONFIG_ENV) \
        else ServerConfig()
    return create_app(path, config=config)


def serve(model_path, host="127.0.0.1", port=8000, *, workers=1, config=None, log_level="info"):
    """Serve the model file ``model_path`` over HTTP until interrupted.

    Parameters
    ----------
    model_path : str or os.PathLike
        A model file written by :func:`fastml.save`.
    host : str, default "127.0.0.1"
        Address to bind. Loopback by default; any other address (``0.0.0.0`` exposes the model to the
        network, with no authentication) is bound with a warning.
    port : int, default 8000
    workers : int, default 1
        Server processes. More than one: uvicorn's supervisor spawns them (never forks), each loads the
        model; the supervisor shares the listening socket between them.
    config : ServerConfig, optional
    log_level : str, default "info"

    Raises
    ------
    fastml.ModelFileError, OSError
        The model file cannot be read (checked before binding).
    ValueError
        ``workers`` or ``port`` out of range.
    """
    import uvicorn

    import fastml

    config = config if config is not None else ServerConfig()
    if not isinstance(config, ServerConfig):
        raise TypeError(f"config must be a ServerConfig, got {type(config).__name__}")
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an int in [0, 65535], got {port!r}")
    model_path = os.path.abspath(os.fspath(model_path))
    fastml.inspect(model_path)  # a missing or broken file fails here, before anything is bound
    if not is_loopback(host):
        warnings.warn(f"binding {host}: the model server is reachable from other machines and has no "
                      "authentication; put it behind a proxy that authenticates, or bind 127.0.0.1",
                      UserWarning, stacklevel=2)
    if workers == 1:
        from ._app import create_app

        uvicorn.run(create_app(model_path, config=config), host=host, port=port, log_level=log_level)
        return
    os.environ[MODEL_ENV] = model_path
    os.environ[CONFIG_ENV] = json.dumps(config.to_dict())
    uvicorn.run("fastml.serving._server:app_from_environment", factory=True, host=host, port=port,
                workers=workers, log_level=log_level)
