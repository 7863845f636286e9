"""Rules of the vendor registry: payment only to a registered, active vendor and only to the bank
account recorded at SP2D; a change of account is its own event with actor and reason."""

from __future__ import annotations

from typing import Any

import pytest

from ledger import commands as c
from ledger import ids
from ledger.application import Ledger
from ledger.disbursement import Status
from ledger.errors import (
    AlreadyExists,
    BankAccountChanged,
    InvalidInput,
    NotFound,
    RoleNotPermitted,
    VendorNotPayable,
)
from ledger.handlers import line_id_of
from ledger.roles import Actor, Role
from ledger.vendor import BankAccount, normalise_npwp
from tests import factory as f
from tests.refusals import event_names, last_notification_id, refused

PAYABLE_RULE = "payment_to_registered_vendor_only"
VENDOR_ID = ids.vendor_id(f.PEMDA, f.NPWP_DIGITS)
ORIGINAL = {"bank_code": "110", "number": "0012345678", "holder": "PT Pikiran Rakyat Bandung"}
OTHER_NPWP = "3273010101800001"  # NIK-based, 16 digits


def register(
    npwp: str = f.NPWP,
    *,
    actor: Actor = f.ADMIN,
    kind: str = "media",
    bank_code: str = "110",
    number: str = "0012345678",
    holder: str = "PT Pikiran Rakyat Bandung",
    name: str = "PT Pikiran Rakyat Bandung",
) -> c.RegisterVendor:
    return c.RegisterVendor(
        idempotency_key=f.key("vendor"),
        actor=actor,
        pemda=f.PEMDA,
        npwp=npwp,
        name=name,
        kind=kind,
        bank_code=bank_code,
        account_number=number,
        account_holder=holder,
    )


change_account = f.change_account


def deactivate(reason: str = "masuk daftar hitam LKPP") -> c.DeactivateVendor:
    return c.DeactivateVendor(
        idempotency_key=f.key("deact"), actor=f.ADMIN, pemda=f.PEMDA, npwp=f.NPWP, reason=reason
    )


def reactivate(reason: str = "sanksi berakhir") -> c.ReactivateVendor:
    return c.ReactivateVendor(
        idempotency_key=f.key("react"), actor=f.ADMIN, pemda=f.PEMDA, npwp=f.NPWP, reason=reason
    )


def to_sp2d(ledger: Ledger, spp: str) -> None:
    for command in (f.request(spp), f.verify(spp), f.approve(spp), f.authorise(spp)):
        ledger.execute(command)


# -- NPWP --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("01.234.567.8-901.000", "012345678901000"),
        ("012345678901000", "012345678901000"),
        ("3273010101800001", "3273010101800001"),
        ("3273 0101 0180 0001", "3273010101800001"),
        ("3273-0101-0180-0001", "3273010101800001"),
    ],
)
def test_npwp_is_normalised_to_15_or_16_digits(raw: str, digits: str) -> None:
    assert normalise_npwp(raw) == digits


@pytest.mark.parametrize(
    "raw",
    [
        "01.234.567.8-901.00",  # 14 digits
        "32730101018000012",  # 17 digits
        "01.234.567.8-901.00A",
        "01/234/567/8/901/000",
        "\uff10" * 15,  # full-width digits
        "",
        12345678901234,
        None,
    ],
)
def test_malformed_npwp_is_refused(raw: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_npwp(raw)
    assert caught.value.rule == "invalid_input"


@pytest.mark.parametrize(
    ("bank_code", "number"),
    [
        ("11", "0012345678"),
        ("1100", "0012345678"),
        ("abc", "0012345678"),
        ("110\n", "0012345678"),  # a trailing newline is not part of a three-digit code
        ("110", "12345"),
        ("110", "1" * 21),
        ("110", "00123456x8"),
    ],
)
def test_bank_account_must_be_a_bank_code_and_6_to_20_digits(bank_code: str, number: str) -> None:
    with pytest.raises(InvalidInput):
        BankAccount.parse(bank_code, number, "PT X")


def test_bank_account_number_is_stored_as_digits() -> None:
    assert BankAccount.parse("008", "123-456.789 0", " PT X ") == BankAccount(
        "008", "1234567890", "PT X"
    )


# -- registration ------------------------------------------------------------------------------
def test_registration_records_the_vendor(ledger: Ledger) -> None:
    result = ledger.execute(register())
    assert result.data == {"id": str(VENDOR_ID), "npwp": f.NPWP_DIGITS}
    vendor = ledger.vendor(VENDOR_ID)
    assert (vendor.npwp, vendor.kind, vendor.active) == (f.NPWP_DIGITS, "media", True)
    assert vendor.bank_account == ORIGINAL
    [registered] = ledger.history(VENDOR_ID)
    assert (registered.actor_id, registered.actor_role) == (f.ADMIN.user_id, "bpkad_admin")


def test_a_vendor_is_registered_once_whatever_the_npwp_spelling(ledger: Ledger) -> None:
    ledger.execute(register())
    error = refused(
        ledger, register(f.NPWP_DIGITS, name="PT Lain"), AlreadyExists, "unique_identity"
    )
    assert f.NPWP_DIGITS in error.message
    assert ledger.vendor(VENDOR_ID).name == "PT Pikiran Rakyat Bandung"


@pytest.mark.parametrize("role", [Role.PPTK, Role.PPK, Role.PA_KPA, Role.KUASA_BUD, Role.VENDOR])
def test_only_bpkad_admin_registers_vendors(ledger: Ledger, role: Role) -> None:
    refused(ledger, register(actor=f.actor("x", role)), RoleNotPermitted, "step_requires_role")
    assert last_notification_id(ledger) == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "ngo"},
        {"bank_code": "11"},
        {"bank_code": "110\n"},
        {"number": "123"},
        {"holder": ""},
        {"name": "  "},
        {"npwp": "123"},
    ],
)
def test_registration_with_bad_fields_appends_nothing(ledger: Ledger, bad: dict[str, Any]) -> None:
    refused(ledger, register(**bad), InvalidInput, "invalid_input")
    assert last_notification_id(ledger) == 0


# -- payable -----------------------------------------------------------------------------------
def test_payment_only_to_a_registered_vendor(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)
    error = refused(ledger, f.request("SPP-1", npwp=OTHER_NPWP), VendorNotPayable, PAYABLE_RULE)
    assert OTHER_NPWP in error.message
    line = ledger.budget_line(line_id_of(f.PEMDA, f.YEAR, f.MEDIA_LINE))
    assert (line.committed, line.version) == (0, 1)
    refused(ledger, f.request("SPP-1", npwp="not an npwp"), InvalidInput, "invalid_input")


def test_a_vendor_of_another_pemda_is_not_registered_here(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.adopt(ledger, pemda="32")
    f.register_vendor(ledger, pemda="32")
    refused(ledger, f.request("SPP-1"), VendorNotPayable, PAYABLE_RULE)
    f.register_vendor(ledger)
    ledger.execute(f.request("SPP-1"))


def test_payment_only_to_an_active_vendor(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)
    ledger.execute(deactivate())
    assert not ledger.vendor(VENDOR_ID).active
    deactivated = ledger.history(VENDOR_ID)[-1]
    assert (deactivated.reason, deactivated.actor_id) == (
        "masuk daftar hitam LKPP",
        f.ADMIN.user_id,
    )
    error = refused(ledger, f.request("SPP-1"), VendorNotPayable, PAYABLE_RULE)
    assert "deactivated" in error.message
    refused(ledger, deactivate(), InvalidInput, "invalid_input")
    ledger.execute(reactivate())
    refused(ledger, reactivate(), InvalidInput, "invalid_input")
    ledger.execute(f.request("SPP-1"))
    assert event_names(ledger.history(VENDOR_ID)) == [
        "Vendor.Registered",
        "Vendor.Deactivated",
        "Vendor.Reactivated",
    ]


def test_vendor_deactivated_after_sp2d_is_not_paid(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)
    to_sp2d(ledger, "SPP-1")
    ledger.execute(deactivate())
    version = ledger.disbursement(f.disbursement_id("SPP-1")).version
    refused(ledger, f.send("SPP-1"), VendorNotPayable, PAYABLE_RULE)
    assert ledger.disbursement(f.disbursement_id("SPP-1")).version == version


def test_changing_an_unknown_vendor_is_not_found(ledger: Ledger) -> None:
    """A registry change names a vendor that is not there: 404, as reading it would be; paying an
    unregistered vendor is the conflict ``payment_to_registered_vendor_only`` (409)."""
    refused(ledger, change_account(npwp=OTHER_NPWP), NotFound, "not_found")
    for kind in (c.DeactivateVendor, c.ReactivateVendor):
        command = kind(
            idempotency_key=f.key("v"), actor=f.ADMIN, pemda=f.PEMDA, npwp=OTHER_NPWP, reason="x"
        )
        refused(ledger, command, NotFound, "not_found")


# -- bank account ------------------------------------------------------------------------------
def test_sp2d_snapshots_the_bank_account(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)
    to_sp2d(ledger, "SPP-1")
    d = ledger.disbursement(f.disbursement_id("SPP-1"))
    assert d.bank_account == ORIGINAL
    assert d.vendor_version == 1
    authorised = ledger.history(d.id)[-1]
    assert type(authorised).__qualname__ == "Disbursement.Authorised"
    assert authorised.bank_account == ORIGINAL
    assert authorised.vendor_id == str(VENDOR_ID)


def test_transfer_refused_when_the_account_changed_after_sp2d(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)
    to_sp2d(ledger, "SPP-1")
    ledger.execute(change_account())
    d = ledger.disbursement(f.disbursement_id("SPP-1"))
    error = refused(ledger, f.send("SPP-1"), BankAccountChanged, "payment_to_account_as_at_sp2d")
    assert "SP2D/SPP-1" in error.message
    after = ledger.disbursement(d.id)
    assert (after.status, after.version, after.bank_account) == (
        Status.AUTHORISED,
        d.version,
        ORIGINAL,
    )
    # Back to the account the SP2D names: the transfer may go.
    ledger.execute(
        change_account("0012345678", bank_code="110", reason="kembali ke rekening semula")
    )
    ledger.execute(f.send("SPP-1"))
    assert ledger.disbursement(d.id).status == Status.SENT


def test_resend_after_failure_refused_when_the_account_changed(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)
    to_sp2d(ledger, "SPP-1")
    ledger.execute(f.send("SPP-1"))
    ledger.execute(f.fail("SPP-1"))
    ledger.execute(change_account())
    refused(ledger, f.send("SPP-1"), BankAccountChanged, "payment_to_account_as_at_sp2d")
    assert ledger.disbursement(f.disbursement_id("SPP-1")).status == Status.FAILED


def test_account_changed_before_sp2d_is_the_one_paid(ledger: Ledger) -> None:
    f.adopt(ledger)
    f.register_vendor(ledger)
    ledger.execute(f.request("SPP-1"))
    ledger.execute(change_account())
    for command in (f.verify("SPP-1"), f.approve("SPP-1"), f.authorise("SPP-1"), f.send("SPP-1")):
        ledger.execute(command)
    d = ledger.disbursement(f.disbursement_id("SPP-1"))
    assert d.bank_account == {
        "bank_code": "008",
        "number": "9876543210",
        "holder": ORIGINAL["holder"],
    }
    assert d.vendor_version == 2


def test_bank_account_change_is_its_own_event_with_actor_and_reason(ledger: Ledger) -> None:
    f.register_vendor(ledger)
    before = last_notification_id(ledger)
    result = ledger.execute(change_account("987-654-3210"))
    assert result.data == {"id": str(VENDOR_ID), "version": 2}
    assert last_notification_id(ledger) == before + 1  # the change (its receipt is kept apart)
    registered, changed = ledger.history(VENDOR_ID)
    assert type(changed).__qualname__ == "Vendor.BankAccountChanged"
    assert changed.old == ORIGINAL
    assert changed.new == {"bank_code": "008", "number": "9876543210", "holder": ORIGINAL["holder"]}
    assert changed.reason == "surat permohonan vendor no. 12/2026"
    assert (changed.actor_id, changed.actor_role) == (f.ADMIN.user_id, "bpkad_admin")
    assert changed.at > registered.at
    assert ledger.vendor(VENDOR_ID).bank_account == changed.new


def test_bank_account_change_rules(ledger: Ledger) -> None:
    f.register_vendor(ledger)
    error = refused(
        ledger, change_account("0012345678", bank_code="110"), InvalidInput, "invalid_input"
    )
    assert "equals the current one" in error.message
    refused(ledger, change_account(reason=" "), InvalidInput, "invalid_input")
    refused(ledger, change_account(bank_code="8"), InvalidInput, "invalid_input")
    refused(ledger, change_account("12"), InvalidInput, "invalid_input")
    for role in (Role.PPTK, Role.KUASA_BUD, Role.VENDOR, Role.GATEWAY):
        refused(
            ledger, change_account(actor=f.actor("x", role)), RoleNotPermitted, "step_requires_role"
        )
    assert event_names(ledger.history(VENDOR_ID)) == ["Vendor.Registered"]
    # A holder name change alone is a change of account too.
    ledger.execute(change_account("0012345678", bank_code="110", holder="PT PRB"))
    assert ledger.vendor(VENDOR_ID).bank_account["holder"] == "PT PRB"
