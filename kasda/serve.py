# ruff: noqa: T201 - a command line prints
"""``kasda serve`` (the HTTP API under uvicorn), ``kasda token`` and ``kasda users`` (local demo
tokens signed with ``KASDA_JWT_SECRET``, or the development key file ``kasda-jwt.key``)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import TYPE_CHECKING

from kasda.settings import Settings
from ledger.roles import Role

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

COMMANDS = ("serve", "token", "users")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="run the HTTP API (default http://127.0.0.1:8000)")
    serve.add_argument("--host", default=DEFAULT_HOST, help="interface (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument("--log-level", default="info", help="uvicorn log level (default info)")
    token = sub.add_parser("token", help="print a signed JWT for one user (local key)")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--pemda", default="32.73", help="Kemendagri region code (default 32.73)")
    token.add_argument("--sub", help="user id (default: a demo user of the role)")
    token.add_argument("--npwp", help="the vendor's NPWP (role vendor only)")
    token.add_argument(
        "--skpd",
        help="the SKPD code the official acts for (roles pptk, bendahara, ppk, pa_kpa only; "
        "default: the demo's Dinas Pendidikan)",
    )
    token.add_argument("--ttl", type=int, default=8 * 3600, help="seconds (default 8 hours)")
    users = sub.add_parser("users", help="print a demo user and token for every role")
    users.add_argument("--pemda", default="32.73", help="Kemendagri region code (default 32.73)")
    users.add_argument("--npwp", default="012345678901000", help="NPWP of the demo vendor user")
    users.add_argument(
        "--skpd",
        help="SKPD code of the demo officials (pptk, bendahara, ppk, pa_kpa; default: the demo's "
        "Dinas Pendidikan)",
    )
    users.add_argument("--ttl", type=int, default=8 * 3600, help="seconds (default 8 hours)")


def run(args: argparse.Namespace, config: Settings) -> int:
    try:  # checks the keys (makes the development key file once) and the gateway settings
        settings = config.api()
    except ValueError as error:  # gateways.config.ConfigError
        print(f"kasda: {error}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(args)
    if args.command == "token":
        if args.ttl < 1:
            print("kasda: --ttl must be at least 1 second", file=sys.stderr)
            return 2
        role = Role(args.role)
        print(_token(settings, role, args.pemda, args.sub, args.npwp, args.skpd, args.ttl))
        return 0
    print(f'# demo users of pemda {args.pemda}; use as: curl -H "Authorization: Bearer $TOKEN"')
    for role in Role:
        npwp = args.npwp if role is Role.VENDOR else None
        skpd = _skpd(role, args.skpd)
        print(f"# {role.value}: {_demo_user(role)}" + (f" of SKPD {skpd}" if skpd else ""))
        token = _token(settings, role, args.pemda, None, npwp, skpd, args.ttl)
        print(f"KASDA_TOKEN_{role.name}={token}")
    return 0


def _demo_user(role: Role) -> str:
    from kasda.demo.users import USERS

    return USERS[role]


def _skpd(role: Role, given: str | None) -> str | None:
    """The SKPD of an official of a spending unit (the demo's Dinas Pendidikan unless given);
    None for the pemda-wide roles."""
    from kasda.demo.users import OFFICIALS_SKPD
    from ledger.roles import SKPD_BOUND

    return (given or OFFICIALS_SKPD) if role in SKPD_BOUND else None


def _token(
    settings: object,
    role: Role,
    pemda: str,
    sub: str | None,
    npwp: str | None,
    skpd: str | None,
    ttl: int,
) -> str:
    from api.auth import make_token
    from api.settings import ApiSettings
    from ledger.errors import InvalidInput
    from ledger.fields import pemda_code
    from ledger.roles import SKPD_BOUND, Actor

    assert isinstance(settings, ApiSettings)
    if settings.jwt_secret is None:
        raise InvalidInput("tokens are issued by the identity provider when KASDA_JWKS_URL is set")
    if role is Role.VENDOR and not npwp:
        raise InvalidInput("a vendor token needs --npwp")
    if skpd is not None and role not in SKPD_BOUND:
        raise InvalidInput(f"role {role.value} acts for the whole pemda; --skpd is for officials")
    user = sub or _demo_user(role)
    # The claims the API will accept: the ledger's Actor checks the user id and SKPD code.
    actor = Actor(user, role, _skpd(role, skpd))
    return make_token(
        settings,
        sub=user,
        role=role,
        pemda=pemda_code(pemda),
        npwp=npwp,
        skpd=actor.skpd,
        ttl_seconds=ttl,
    )


def create_app_from_env() -> FastAPI:
    """The uvicorn factory of ``kasda serve``: each worker process reads the settings once, at
    its start-up, from the environment it inherited."""
    from api.app import create_app

    return create_app(Settings.from_env().api())


def _serve(args: argparse.Namespace) -> int:
    """Run uvicorn; non-zero when the server could not start (e.g. the database is down), with
    one worker or several. uvicorn's own ``run`` exits 3 then with one worker, but with several
    its supervisor stops and ``run`` returns as after a clean shutdown: the workers' exit codes
    are read here instead."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    if args.workers < 1:
        print("kasda: --workers must be at least 1", file=sys.stderr)
        return 2
    config = uvicorn.Config(
        "kasda.serve:create_app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=False,
    )
    if args.workers == 1:
        return _run_one(config)
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    with contextlib.suppress(KeyboardInterrupt):
        supervisor.run()
    failed = [p.exitcode for p in supervisor.processes if p.exitcode == STARTUP_FAILURE]
    if failed:
        print("kasda: a worker failed to start; see the log above", file=sys.stderr)
        return STARTUP_FAILURE
    return 0


def _run_one(config: uvicorn.Config) -> int:
    """One worker in this process until Ctrl-C (0), or non-zero when it could not start."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE

    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0 if server.started else STARTUP_FAILURE


def serve_app(app: FastAPI, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> int:
    """Serve an app built by the caller (``kasda demo``: with its own settings) as ``kasda serve``
    does with one worker, until Ctrl-C (0); non-zero when it could not start."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="info", access_log=False)
    return _run_one(config)
