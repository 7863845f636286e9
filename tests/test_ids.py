"""The deterministic ids are exactly ``uuid.uuid5`` of the key, however they are computed."""

from __future__ import annotations

import copy
import pickle
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import ids

_SURROGATE_FREE = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


def reference(*parts: object) -> uuid.UUID:
    """The ids as main computed them."""
    return uuid.uuid5(ids.KASDA_NAMESPACE, "\x1f".join(str(p) for p in parts))


@given(st.lists(st.one_of(_SURROGATE_FREE, st.integers(), st.none()), max_size=6))
def test_an_id_is_uuid5_of_its_parts(parts: list[object]) -> None:
    found = ids.key_id(*parts)
    expected = reference(*parts)
    assert found == expected
    assert str(found) == str(expected) and found.bytes == expected.bytes
    assert hash(found) == hash(expected)
    assert (found.version, found.variant) == (5, uuid.RFC_4122)
    assert found.is_safe is expected.is_safe


@given(_SURROGATE_FREE, st.integers(1900, 2200), _SURROGATE_FREE)
def test_asked_twice_the_same_id(pemda: str, year: int, spp: str) -> None:
    first = ids.disbursement_id(pemda, year, spp)
    assert (
        ids.disbursement_id(pemda, year, spp)
        == first
        == reference("disbursement", pemda, year, spp)
    )


def test_an_id_behaves_as_any_uuid() -> None:
    found = ids.budget_id("3273", 2026)
    assert pickle.loads(pickle.dumps(found)) == found
    assert copy.deepcopy(found) == found
    assert uuid.UUID(str(found)) == found
    assert {found: 1}[reference("budget", "3273", 2026)] == 1


def test_a_key_that_cannot_be_utf8_is_refused_as_before() -> None:
    with pytest.raises(UnicodeEncodeError):
        reference("receipt", "x\ud800")
    with pytest.raises(UnicodeEncodeError):
        ids.key_id("receipt", "x\ud800")
