"""Property-based tests of the whole API from its own OpenAPI document (schemathesis): whatever
the input, no 5xx, and every response conforms to the documented status codes, media types and
schemas. A bounded number of examples per operation, on a real SQLite file with a small world."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from ledger.application import Ledger
from ledger.roles import Role
from testkit import api as testing
from testkit.world import PEMDA

EXAMPLES = int(os.environ.get("KASDA_SCHEMATHESIS_EXAMPLES", "15"))
_STORE = Path(os.environ.get("PYTEST_XDIST_WORKER", "main"))  # one file per xdist worker


def _app() -> Any:
    folder = Path(tempfile.mkdtemp(prefix=f"kasda-schemathesis-{_STORE}-"))
    atexit.register(shutil.rmtree, folder, True)
    config = testing.settings(f"sqlite:///{folder / 'kasda.db'}")
    ledger = Ledger(config.database_url)
    app = create_app(config, ledger=ledger)
    with TestClient(app) as client:
        testing.build_world(client, config)
    return app, config


APP, CONFIG = _app()
# The payment gateways' webhooks (api/webhooks.py) answer the gateways in their own format and are
# tested with signed notifications in their own tests.
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path_regex="^/webhooks")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=os.environ.get("KASDA_SCHEMATHESIS_RANDOM") is None,
)
def test_no_input_is_a_server_error(case: schemathesis.Case[Any]) -> None:
    roles = case.operation.definition.raw.get("x-kasda-roles")
    headers: dict[str, str] = {}
    if roles:
        # Mostly this pemda, with a role the route accepts, so that requests go deep.
        if case.path_parameters is not None and "pemda" in case.path_parameters:
            case.path_parameters["pemda"] = PEMDA
        headers = testing.bearer(CONFIG, Role(roles[0]))
    case.call_and_validate(headers=headers, checks=CHECKS)
