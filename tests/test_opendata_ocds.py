"""The open data's ``ocds.json`` (``opendata/ocds.py``) against the official OCDS 1.1 schemas
shipped in ``opendata/ocds_schema/`` (read with ``jsonschema``; the release schema that the
package schema names by URL is resolved from the shipped file, never over the network): it
validates, each payment's transaction says who paid whom, how much and when, the ocid prefix is
the setting's, and a release that breaks the schema is refused (so that the check can fail)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from api.app import create_app
from ledger.errors import InvalidInput
from opendata import ocds
from testkit.web import web_settings
from testkit.world import PEMDA, YEAR
from tests.test_opendata import FINAL, PRIVATE, build, download
from web.settings import WebSettings

PREFIX = "ocds-b5x9k2"  # a prefix a pemda registered (made up for the test)


def schema(name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(
        resources.files("opendata").joinpath("ocds_schema", name).read_text("utf-8")
    )
    return found


def _no_network(uri: str) -> Resource[Any]:
    raise AssertionError(f"the schemas must resolve locally, not fetch {uri}")


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def _uri(value: object) -> bool:
    return not isinstance(value, str) or bool(urlsplit(value).scheme)


FORMATS = FormatChecker(formats=())
FORMATS.checks("date-time")(_date_time)
FORMATS.checks("uri")(_uri)


def validator() -> Draft4Validator:
    """The release package schema's validator, its ``$ref`` to the release schema (by URL)
    answered from the shipped file, and date-time and uri formats checked."""
    package, release = schema("release-package-schema.json"), schema("release-schema.json")
    offline: Registry[Any] = Registry(retrieve=_no_network)  # type: ignore[call-arg]
    registry = offline.with_resource(
        release["id"], Resource.from_contents(release, default_specification=DRAFT4)
    )
    return Draft4Validator(package, registry=registry, format_checker=FORMATS)


def errors(package: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(package)]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The ocds.json of the payments of ``tests.test_opendata``, published with ``PREFIX`` at
    the URL kasda is reached at; and the same facts as payments.json."""
    path = tmp_path_factory.mktemp("ocds") / "kasda.db"
    config = web_settings(f"sqlite:///{path}")
    pages = WebSettings(session_secret=config.pages.session_secret, ocds_prefix=PREFIX,
                        public_url="https://kasda.example.go.id/")  # fmt: skip
    config = replace(config, web=pages)
    with TestClient(create_app(config)) as client:
        ids = build(client, config)
        answer = download(client, "ocds.json")
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json"
        payments = orjson.loads(download(client, "payments.json").content)["data"]
        yield {"package": orjson.loads(answer.content), "text": answer.text, "ids": ids,
               "payments": payments}  # fmt: skip


def test_the_package_validates_against_the_official_schema(published: dict[str, Any]) -> None:
    assert errors(published["package"]) == []


def test_a_broken_release_is_refused(published: dict[str, Any]) -> None:
    """The validator is not a formality: each of these breaks a rule of OCDS 1.1."""
    breaks: dict[str, Callable[[dict[str, Any]], object]] = {
        "no ocid": lambda r: r.pop("ocid"),
        "a tag not in the codelist": lambda r: r.update(tag=["paid"]),
        "another initiation type": lambda r: r.update(initiationType="direct"),
        "a date that is not a date-time": lambda r: r.update(date="kemarin"),
        "an amount as text": lambda r: r["contracts"][0]["implementation"]["transactions"][0][
            "value"
        ].update(amount="1.000"),
        "a currency not in the codelist": lambda r: r["contracts"][0]["implementation"][
            "transactions"
        ][0]["value"].update(currency="RP"),
        "a contract without its award": lambda r: r["contracts"][0].pop("awardID"),
    }
    for why, breaking in breaks.items():
        package = copy.deepcopy(published["package"])
        breaking(package["releases"][0])
        assert errors(package) != [], why
    empty = {**published["package"], "releases": []}
    assert errors(empty) != []  # a package holds at least one release


def test_each_payment_is_a_release_with_its_transaction(published: dict[str, Any]) -> None:
    package = published["package"]
    assert package["version"] == "1.1"
    assert package["uri"] == (
        f"https://kasda.example.go.id/publik/data/ocds.json?pemda={PEMDA}&tahun={YEAR}"
    )
    releases = package["releases"]
    assert len(releases) == len(FINAL) == len(published["payments"])
    assert package["publishedDate"] == max(r["date"] for r in releases)
    for release, payment in zip(releases, published["payments"], strict=True):
        assert release["ocid"] == f"{PREFIX}-{PEMDA}-{payment['id']}"
        assert release["id"].startswith(f"{payment['id']}-")
        assert release["initiationType"] == "tender"
        roles = {p["id"]: set(p["roles"]) for p in release["parties"]}
        assert roles[f"pemda-{PEMDA}"] == {"buyer", "payer"}
        assert roles["penerima"] == {"supplier", "payee"}
        assert release["buyer"] == {"id": f"pemda-{PEMDA}", "name": f"Pemerintah Daerah {PEMDA}"}
        (contract,) = release["contracts"]
        assert contract["awardID"] == release["awards"][0]["id"]
        (transaction,) = contract["implementation"]["transactions"]
        assert transaction["id"] == payment["sp2d_number"]
        assert transaction["value"] == {"amount": payment["jumlah"], "currency": "IDR"}
        assert isinstance(transaction["value"]["amount"], int)
        assert transaction["payer"] == release["buyer"]
        assert transaction["payee"] == {"id": "penerima", "name": payment["penerima"]}
        paid = payment["tanggal_bayar"] or payment["tanggal_sp2d"]
        assert transaction["date"] == release["date"] == f"{paid}T00:00:00+07:00"
    assert published["ids"]["SPP-3"] not in published["text"]  # requested, not final


def test_no_private_data_in_the_releases(published: dict[str, Any]) -> None:
    for secret in PRIVATE:
        assert secret not in published["text"], secret
    for release in published["package"]["releases"]:
        for party in release["parties"]:
            assert set(party) == {"id", "name", "roles"}  # no identifier, address or contact


def test_the_prefix_is_a_checked_setting() -> None:
    with pytest.raises(InvalidInput, match="KASDA_OCDS_PREFIX"):
        WebSettings(session_secret="s" * 48, ocds_prefix="ocds kasda/..")
    from kasda.settings import Settings

    web = Settings.from_env({"KASDA_OCDS_PREFIX": PREFIX, "KASDA_SESSION_SECRET": "s" * 48}).web(
        None
    )
    assert web.ocds_prefix == PREFIX
    assert (
        Settings.from_env({"KASDA_SESSION_SECRET": "s" * 48}).web(None).ocds_prefix == "ocds-kasda"
    )


def test_the_schemas_are_shipped_with_their_provenance() -> None:
    folder = Path(str(resources.files("opendata").joinpath("ocds_schema")))
    readme = (folder / "README.md").read_text("utf-8")
    assert "1__1__5" in readme and "af0d0d41c64be26d8bbd57dcca8b474937e5851c" in readme
    assert schema("release-schema.json")["id"].endswith("/1__1__5/release-schema.json")
    items = schema("release-package-schema.json")["properties"]["releases"]["items"]
    assert items["$ref"] == schema("release-schema.json")["id"]


def test_a_release_id_changes_with_what_the_release_says(published: dict[str, Any]) -> None:
    """The same facts are the same release; a payment that is then paid is a new release of the
    same ocid (OCDS: a release id is unique within its ocid)."""
    authorised = next(p for p in published["payments"] if p["status"] == "sp2d_terbit")
    before = ocds.release(authorised, PEMDA, PREFIX)
    assert ocds.release(dict(authorised), PEMDA, PREFIX) == before
    paid = ocds.release(
        {**authorised, "status": "dibayar", "tanggal_bayar": "2026-12-30"}, PEMDA, PREFIX
    )
    assert paid["ocid"] == before["ocid"] and paid["id"] != before["id"]


def test_the_documented_example_is_valid_ocds() -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "opendata.md").read_text("utf-8")
    example = page.split("```json\n", 1)[1].split("\n```", 1)[0]
    assert errors(json.loads(example)) == []
