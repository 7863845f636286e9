"""The second half of ``make demo``: once the year is built (or found), serve the web app over it in
demo mode (``kasda serve``'s machinery, one worker) and say how to sign in as each role, until
Ctrl-C. Only on a terminal and with ``KASDA_DEMO_SERVE`` on: otherwise ``kasda demo`` builds and
exits, so that scripts and CI can run it."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import TextIO

from kasda.demo.pemda import DEFAULT_LIFECYCLES
from kasda.demo.users import demo_sign_ins, year_vendor
from kasda.settings import Settings
from web.settings import DemoUser


def on_terminal(stream: object) -> bool:
    """Whether ``stream`` is a terminal (a closed or replaced stream is not)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (OSError, ValueError):
        return False


def why_not_serve(settings: Settings, stdin: object, stdout: object) -> str | None:
    """Why ``kasda demo`` only builds and exits this time; None when it serves."""
    if not settings.demo_serve:
        return "KASDA_DEMO_SERVE is off"
    if not (on_terminal(stdin) and on_terminal(stdout)):
        return "not attached to a terminal"
    return None


def sign_in_help(url: str, users: tuple[DemoUser, ...] | None = None) -> list[str]:
    """How to sign in as each role: the demo users of the sign-in page."""
    from web.render import ROLE_NAMES

    lines = [
        f"kasda web app (demo mode): {url}/masuk",
        "Sign in with one click as one of the demo users (user id, role, acting for):",
    ]
    for user in users if users is not None else demo_sign_ins():
        role = ROLE_NAMES.get(user.role.value, user.role.value)
        lines.append(f"  {user.user_id:<16} {role:<24} {user.label}")
    lines.append("The HTTP API is at the same address (/docs); `kasda users` prints API tokens.")
    lines.append("Press Ctrl-C to stop.")
    return lines


def serve_demo(
    settings: Settings,
    host: str,
    port: int,
    *,
    seed: int | None = None,
    lifecycles: int | None = None,
    stdin: object = None,
    out: TextIO | None = None,
) -> int:
    """After the build: serve the demo's web app until Ctrl-C (0), or say why not and return 0."""
    out = out or sys.stdout
    reason = why_not_serve(settings, sys.stdin if stdin is None else stdin, out)
    if reason is not None:
        print(
            f"\nNot serving the web app ({reason}); to serve it: "
            f"KASDA_DEMO_MODE=1 kasda serve (http://{host}:{port}/masuk).",
            file=out,
        )
        return 0
    from api.app import create_app
    from kasda.serve import serve_app

    api = replace(settings, demo_mode=True).api()
    if seed is not None and api.web is not None:  # the year's own vendor, so its portal has data
        vendor = year_vendor(seed, lifecycles or DEFAULT_LIFECYCLES)
        api = replace(api, web=replace(api.web, demo_users=demo_sign_ins(vendor)))
    app = create_app(api)
    users = api.pages.demo_users
    print("\n" + "\n".join(sign_in_help(f"http://{host}:{port}", users)) + "\n", file=out,
          flush=True)  # fmt: skip
    code = serve_app(app, host, port)
    print("kasda demo: the web app has stopped.", file=out, flush=True)
    return code
