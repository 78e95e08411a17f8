"""The ``fallom-otel`` command: ``serve``, ``traces``, ``sessions`` and ``demo``.

``serve`` runs the local collector; ``traces`` and ``sessions`` are terminal views of its database (read directly,
so they work whether or not the collector runs); ``demo`` traces a short app into a collector it starts.

The collector's dependencies come with the ``collector`` extra; without it the command says how to install it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]

_EXTRA_HINT = "this command needs the collector extra: pip install 'fallom-otel[collector]'"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fallom-otel",
        description="fallom-otel: the local collector and trace viewer, terminal views and a demo.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the local collector (OTLP/HTTP receiver, SQLite storage, web viewer)",
        description="Receive OTLP/HTTP traces on /v1/traces and media on /v1/media/{id}, store them in SQLite, and "
        "serve the trace viewer on the same port.",
    )
    serve.add_argument("--host", default=None, help="interface to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=None, help="TCP port (default 4318, the OTLP/HTTP port; 0: any)")
    _db_argument(serve)
    serve.add_argument(
        "--api-key",
        default=os.environ.get("FALLOM_COLLECTOR_API_KEY"),
        help="require 'Authorization: Bearer KEY' for ingest and media upload (env FALLOM_COLLECTOR_API_KEY)",
    )
    serve.add_argument("--max-body-mb", type=float, default=32.0, help="largest request body accepted (MiB)")
    serve.add_argument("--max-media-mb", type=float, default=20.0, help="largest media object accepted (MiB)")
    serve.add_argument("--max-media-total-mb", type=float, default=1024.0, help="total media kept (MiB)")
    serve.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--simulate",
        action="store_true",
        help="also run the demo's simulated OpenAI/Anthropic provider on another loopback port and print the "
        "OPENAI_BASE_URL / ANTHROPIC_BASE_URL to use (try the examples without API keys)",
    )

    traces = commands.add_parser("traces", help="latest calls as a table", description="The latest stored calls.")
    _db_argument(traces)
    traces.add_argument("--session", help="only this session id")
    traces.add_argument("--config-key", help="only this config key")
    traces.add_argument("--model", help="only this model")
    traces.add_argument("--errors", action="store_true", help="only failed calls")
    traces.add_argument("--limit", type=int, default=20, help="how many calls (default 20)")
    traces.add_argument("--json", action="store_true", help="print JSON instead of a table")

    sessions = commands.add_parser("sessions", help="latest sessions as a table", description="The latest sessions.")
    _db_argument(sessions)
    sessions.add_argument("--config-key", help="only this config key")
    sessions.add_argument("--limit", type=int, default=20, help="how many sessions (default 20)")
    sessions.add_argument("--json", action="store_true", help="print JSON instead of a table")

    demo = commands.add_parser(
        "demo",
        help="run a short traced demo app into the local collector and print what it recorded",
        description="Start the collector, run two concurrent sessions (OpenAI chat with a tool and a stream, an "
        "Anthropic stream with an image, one failing call) and print the calls. Without OPENAI_API_KEY / "
        "ANTHROPIC_API_KEY a built-in simulated provider answers (clearly labelled).",
    )
    _db_argument(demo)
    demo.add_argument("--port", type=int, default=0, help="collector port (default: any free port)")
    wait = demo.add_mutually_exclusive_group()
    wait.add_argument("--wait", dest="wait", action="store_true", default=None, help="keep serving the viewer")
    wait.add_argument("--no-wait", dest="wait", action="store_false", help="exit after printing")
    return parser


def _db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=None,
        help="SQLite database (default $FALLOM_COLLECTOR_DB or ~/.local/share/fallom-otel/traces.db)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fallom-otel`` command.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    args = _parser().parse_args(argv)
    try:
        import rich  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        sys.stderr.write(f"fallom-otel {args.command}: {_EXTRA_HINT}\n")
        return 2
    handler = {"serve": _serve, "traces": _traces, "sessions": _sessions, "demo": _demo}[args.command]
    try:
        return handler(args)
    except FileNotFoundError as error:
        sys.stderr.write(f"fallom-otel {args.command}: {error}\n")
        return 1
    except KeyboardInterrupt:
        return 130


def _serve(args: argparse.Namespace) -> int:
    from fallom_otel.collector import Collector, Limits
    from fallom_otel.collector._server import DEFAULT_HOST, DEFAULT_PORT

    mib = 1024 * 1024
    collector = Collector(
        db=args.db,
        host=args.host or DEFAULT_HOST,
        port=DEFAULT_PORT if args.port is None else args.port,
        api_key=args.api_key or None,
        limits=Limits(max_body_bytes=int(args.max_body_mb * mib)),
        max_media_bytes=int(args.max_media_mb * mib),
        max_media_total_bytes=int(args.max_media_total_mb * mib),
        log_level=args.log_level,
    )
    try:
        collector.bind()
    except OSError as error:
        sys.stderr.write(f"fallom-otel serve: cannot listen on {collector.host}:{collector.port}: {error}\n")
        return 1
    _say(f"fallom-otel collector listening on {collector.url}")
    _say(f"  traces:   POST {collector.url}/v1/traces (OTLP/HTTP protobuf or JSON)")
    _say(f"  viewer:   {collector.url}/")
    _say(f"  database: {collector.db_path}")
    if collector.api_key:
        _say("  ingest and media upload require the API key (Authorization: Bearer ...)")
    _say(f'  send traces with fallom_otel.init(base_url="{collector.url}")  ·  Ctrl-C stops')
    simulator = _start_simulator() if args.simulate else None
    if simulator is not None:
        _say("  SIMULATED provider (no real model answers; ids and the x-simulated header say so). In the app's shell:")
        _say(f"    export FALLOM_BASE_URL={collector.url}")
        _say(f"    export OPENAI_BASE_URL={simulator.url}/v1 OPENAI_API_KEY=simulated")
        _say(f"    export ANTHROPIC_BASE_URL={simulator.url} ANTHROPIC_API_KEY=simulated")
    try:
        collector.serve_forever()
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled; stopping is the normal way out
        pass
    finally:
        if simulator is not None:
            simulator.stop()
    _say("fallom-otel collector stopped")
    return 0


def _start_simulator() -> Any:
    from fallom_otel._demo import simulated_provider_app
    from fallom_otel.collector._server import AppServer

    server = AppServer(simulated_provider_app(), host="127.0.0.1", port=0)
    server.start()
    return server


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _open_store(db: str | None) -> Any:
    from fallom_otel.collector import Store, default_db_path

    return Store(db if db is not None else default_db_path(), readonly=True)


def _traces(args: argparse.Namespace) -> int:
    from fallom_otel.collector import Filters
    from fallom_otel.collector._views import calls_table, console, json_rows

    filters = Filters(config_key=args.config_key, model=args.model, status="error" if args.errors else None)
    with _open_store(args.db) as store:
        calls = store.calls(filters, session_id=args.session, limit=max(args.limit, 1))
    if args.json:
        sys.stdout.write(json_rows(calls) + "\n")
        return 0
    title = f"latest {len(calls)} calls" + (f" of session {args.session}" if args.session else "")
    console().print(calls_table(list(reversed(calls)), title=title))
    return 0


def _sessions(args: argparse.Namespace) -> int:
    from fallom_otel.collector import Filters
    from fallom_otel.collector._views import console, json_rows, sessions_table

    with _open_store(args.db) as store:
        rows = store.sessions(Filters(config_key=args.config_key), limit=max(args.limit, 1))
    if args.json:
        sys.stdout.write(json_rows(rows) + "\n")
        return 0
    console().print(sessions_table(rows, title=f"latest {len(rows)} sessions"))
    return 0


def _demo(args: argparse.Namespace) -> int:
    try:
        import anthropic  # noqa: F401
        import openai  # noqa: F401
    except ImportError:
        sys.stderr.write(
            "fallom-otel demo: the demo app needs the openai and anthropic SDKs: pip install openai anthropic\n"
        )
        return 2
    from fallom_otel._demo import run_demo

    os.environ.setdefault("OTEL_SERVICE_NAME", "fallom-otel-demo")  # the resource the demo's spans carry
    wait = sys.stdin.isatty() and sys.stdout.isatty() if args.wait is None else args.wait
    run_demo(db=args.db, port=args.port, wait=wait)
    return 0
