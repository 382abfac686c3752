"""`kata-providers`: the daemon's command line."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace

from service import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kata-providers", description="Localhost daemon for Anthropic and OpenAI models."
    )
    parser.add_argument("--version", action="version", version=f"kata-providers {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the daemon; prints one JSON ready line")
    serve.add_argument(
        "--host", default=None, help="address to bind (KATA_PROVIDERS_HOST, default 127.0.0.1)"
    )
    serve.add_argument(
        "--port",
        type=_port,
        default=None,
        help="port to bind; 0 picks a free one (KATA_PROVIDERS_PORT, default 0)",
    )
    serve.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="an exact browser origin allowed to call the daemon (repeatable)",
    )
    serve.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="an extra Host header value to accept, e.g. behind a port mapping (repeatable)",
    )
    serve.add_argument("--parent-pid", type=int, default=None, help="exit when this process exits")
    serve.add_argument("--demo", action="store_true", help="serve against built-in fake providers")
    serve.add_argument(
        "--log-level",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        default=None,
        help="KATA_PROVIDERS_LOG_LEVEL, default INFO",
    )
    serve.add_argument(
        "--log-format",
        choices=["auto", "text", "json"],
        default=None,
        help="text for people, JSON lines for programs; auto: text at a terminal "
        "(KATA_PROVIDERS_LOG_FORMAT, default auto)",
    )
    serve.add_argument(
        "--no-ledger",
        action="store_true",
        help="keep no history of executions on disk (KATA_PROVIDERS_LEDGER=false); budgets then "
        "count from the start only",
    )
    serve.add_argument(
        "--drain-s",
        type=float,
        default=None,
        metavar="SECONDS",
        help="on SIGTERM, how long open executions may finish before they are ended (default 10)",
    )

    commands.add_parser("openapi", help="print the OpenAPI document")
    from service.process.client_cli import add_commands

    add_commands(commands)
    return parser


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0 to 65535)")
    return port


def _serve(args: argparse.Namespace) -> int:
    # aiohttp's signal lists, built once per session, as frozenlist's pure-Python class: its C++
    # extension brings libstdc++ with it (1 MB of the daemon's RSS, measured). The built
    # executable leaves that extension out (packaging/kata-providers.spec).
    os.environ.setdefault("FROZENLIST_NO_EXTENSIONS", "1")
    from service.process.config import DaemonConfig, check_origin, load_env_config
    from service.process.logs import Redactor
    from service.process.server import main_stdout, serve

    stdout = main_stdout()
    try:
        origins = tuple(check_origin(origin) for origin in args.allow_origin)
        config = DaemonConfig(**load_env_config())  # type: ignore[arg-type]
    except ValueError as exc:
        print(f"kata-providers: {exc}", file=sys.stderr)
        return 2
    config = replace(
        config,
        host=args.host or config.host,
        port=config.port if args.port is None else args.port,
        allow_origins=origins,
        allowed_hosts=tuple(args.allowed_host),
        parent_pid=args.parent_pid,
        demo=args.demo,
        log_level=(args.log_level or config.log_level).upper(),
        log_format=args.log_format or config.log_format,
        shutdown_grace_s=config.shutdown_grace_s if args.drain_s is None else args.drain_s,
        ledger=config.ledger and not args.no_ledger,
    )
    return serve(config, Redactor(), stdout)


def _openapi() -> int:
    from service.http.app import create_app
    from service.process.config import DaemonConfig

    app = create_app(DaemonConfig())
    print(json.dumps(app.openapi(), indent=2, sort_keys=False))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script. Bad arguments exit 2 with a usage line."""
    args = _parser().parse_args(argv)
    if args.command != "serve" and hasattr(signal, "SIGPIPE"):
        # `kata-providers status | head -1`: end quietly when the reader goes away.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if args.command == "serve":
        return _serve(args)
    if args.command == "openapi":
        return _openapi()
    from service.process.client_cli import run_command

    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
