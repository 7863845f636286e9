"""Bulk transfers through the BPD's cash management system (CMS): authorised SP2D are exported as
one CSV batch with a control total, and the bank's result file is imported back as ledger facts.

Batch file (``export_batch``)::

    H,<batch_id>,<rkud_account>,<yyyy-mm-dd>,<count>,<control_total>
    D,<seq>,<sp2d_number>,<reference>,<bank_code>,<account_number>,<account_holder>,<amount>,<remark>
    ...
    T,<count>,<control_total>

Result file (``import_result``), as the bank returns it::

    H,<batch_id>,<count>,<control_total>
    D,<seq>,<reference>,<amount>,<SUCCESS|FAILED>,<bank_reference>,<reason>
    T,<count>,<control_total>

Amounts are integer rupiah; the control total is the sum of the lines' amounts. ``reference`` is the
transfer reference derived from the disbursement (``gateways.references``, prefix ``ksb``).

No double payment: exporting records ``Sent`` for every line BEFORE the file exists (idempotency key
from batch and reference), so an SP2D in one batch can never be exported in another; exporting the
same batch again reproduces the same file. Importing checks every line (format, reference, amount,
counts, control total) first and applies nothing if any line is wrong (``BankFileError`` names the
line); a result imported twice records nothing twice.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from gateways.facts import GATEWAY_ACTOR
from gateways.references import parse_reference, payout_reference, reference_channel
from ledger import commands as c
from ledger.application import Ledger
from ledger.disbursement import Disbursement, Status
from ledger.errors import DomainError
from ledger.roles import Actor

GATEWAY_NAME = "bpd-cms"
_BATCH_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MAX_LINES = 10_000


class BankFileError(ValueError):
    """A bank file that cannot be applied; ``line`` is 1-based (0: the file as a whole)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True)
class BankBatch:
    batch_id: str
    text: str
    count: int
    control_total: int
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ImportSummary:
    batch_id: str
    settled: int
    failed: int
    already_recorded: int


def _clean(text: str) -> str:
    return " ".join(text.replace(",", " ").split())[:100]


def _sent_command(d: Disbursement, batch_id: str, ref: str, actor: Actor) -> c.RecordTransferSent:
    return c.RecordTransferSent(
        idempotency_key=f"bpd:{batch_id}:{ref}:sent",
        actor=actor,
        pemda=d.pemda,
        disbursement_id=d.id,
        gateway=GATEWAY_NAME,
        reference=ref,
    )


def export_batch(
    ledger: Ledger,
    disbursement_ids: Sequence[UUID],
    batch_id: str,
    *,
    rkud_account: str,
    on: date,
    actor: Actor = GATEWAY_ACTOR,
) -> BankBatch:
    """Record every line as sent, then write the batch. Refuses (changing nothing) if any
    disbursement is not payable in this batch."""
    _check_batch(disbursement_ids, batch_id)
    lines: list[tuple[Disbursement, str]] = []
    commands: list[c.RecordTransferSent] = []
    for disbursement_id in disbursement_ids:
        d = ledger.disbursement(disbursement_id)
        ref = _batch_reference(ledger, d)
        lines.append((d, ref))
        commands.append(_sent_command(d, batch_id, ref, actor))
    outcomes = ledger.execute_batch(commands)
    for (d, _), outcome in zip(lines, outcomes, strict=True):
        if isinstance(outcome, DomainError):
            # Another batch (or gateway) got there first: this SP2D must not be in this file.
            raise BankFileError(0, f"SP2D {d.sp2d_number}: {outcome.message}")
    text, total = _batch_file(batch_id, rkud_account, on, lines)
    return BankBatch(batch_id, text, len(lines), total, tuple(r for _, r in lines))


def _check_batch(disbursement_ids: Sequence[UUID], batch_id: str) -> None:
    if not _BATCH_ID.match(batch_id):
        raise BankFileError(0, f"batch id {batch_id!r}: 1..32 letters, digits, '-' or '_'")
    if not disbursement_ids or len(disbursement_ids) > MAX_LINES:
        raise BankFileError(0, f"a batch holds 1..{MAX_LINES} disbursements")
    if len(set(disbursement_ids)) != len(disbursement_ids):
        raise BankFileError(0, "a disbursement appears twice in the batch")


def _batch_reference(ledger: Ledger, d: Disbursement) -> str:
    """The transfer reference of ``d`` in a bank batch: its current one when this batch already
    sent it (exporting again reproduces the file), a new attempt's when it is payable."""
    if (
        d.status is Status.SENT
        and d.gateway_reference
        and d.gateway_reference == (payout_reference(d.id, d.attempts, "bank"))
    ):
        return d.gateway_reference
    if d.status not in (Status.AUTHORISED, Status.FAILED):
        raise BankFileError(0, f"SP2D {d.sp2d_number or d.spp_number} is {d.status}")
    try:  # the ledger's rule: vendor active, account as at SP2D
        d.check_payee(ledger.vendor(UUID(d.vendor_id)))
    except DomainError as refused:
        raise BankFileError(0, f"SP2D {d.sp2d_number}: {refused.message}") from None
    return payout_reference(d.id, d.attempts + 1, "bank")


def _batch_file(
    batch_id: str, rkud_account: str, on: date, lines: list[tuple[Disbursement, str]]
) -> tuple[str, int]:
    """The CSV the CMS reads, and its control total."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    total = sum(d.net for d, _ in lines)
    writer.writerow(["H", batch_id, rkud_account, on.isoformat(), len(lines), total])
    for seq, (d, ref) in enumerate(lines, start=1):
        account = d.bank_account or {}
        writer.writerow(
            [
                "D",
                seq,
                d.sp2d_number,
                ref,
                account.get("bank_code", ""),
                account.get("number", ""),
                _clean(account.get("holder", "")),
                d.net,
                _clean(f"{d.sp2d_number} {d.description}"),
            ]
        )
    writer.writerow(["T", len(lines), total])
    return out.getvalue(), total


@dataclass(frozen=True, slots=True)
class _ResultLine:
    line: int
    reference: str
    amount: int
    ok: bool
    bank_reference: str
    reason: str


def _int(value: str, line: int, what: str) -> int:
    if not value.isdigit():
        raise BankFileError(line, f"{what} {value!r} is not a whole number of rupiah")
    return int(value)


def _parse_result(text: str) -> tuple[str, list[_ResultLine]]:
    rows = [(n, r) for n, r in enumerate(csv.reader(io.StringIO(text)), start=1) if r]
    if len(rows) < 3:
        raise BankFileError(0, "a result file has a header, at least one line and a trailer")
    n, header = rows[0]
    if len(header) != 4 or header[0] != "H":
        raise BankFileError(n, "expected the header H,<batch_id>,<count>,<control_total>")
    batch_id = header[1]
    count = _int(header[2], n, "count")
    control = _int(header[3], n, "control total")
    n_end, trailer = rows[-1]
    if len(trailer) != 3 or trailer[0] != "T":
        raise BankFileError(n_end, "expected the trailer T,<count>,<control_total>")
    lines: list[_ResultLine] = []
    seen: set[str] = set()
    for n, row in rows[1:-1]:
        lines.append(_result_line(n, row, seen))
    total = sum(x.amount for x in lines)
    for where, (cnt, ctl) in ((rows[0][0], (count, control)), (n_end, (trailer[1], trailer[2]))):
        cnt_value = _int(str(cnt), where, "count")
        ctl_value = _int(str(ctl), where, "control total")
        if cnt_value != len(lines):
            raise BankFileError(where, f"count {cnt_value} but {len(lines)} lines")
        if ctl_value != total:
            raise BankFileError(where, f"control total {ctl_value} but the lines sum to {total}")
    return batch_id, lines


def _result_line(n: int, row: list[str], seen: set[str]) -> _ResultLine:
    """One ``D`` line of a result file, checked; ``seen`` holds the references of the lines
    before it (a reference appears once)."""
    if len(row) != 7 or row[0] != "D":
        raise BankFileError(n, "expected D,<seq>,<reference>,<amount>,<status>,<bank_ref>,<reason>")
    _int(row[1], n, "sequence")
    status = row[4].upper()
    if status not in ("SUCCESS", "FAILED"):
        raise BankFileError(n, f"status {row[4]!r} is neither SUCCESS nor FAILED")
    if row[2] in seen:
        raise BankFileError(n, f"reference {row[2]} appears twice")
    seen.add(row[2])
    if status == "SUCCESS" and not row[5].strip():
        raise BankFileError(n, "a SUCCESS line needs the bank's reference")
    if status == "FAILED" and not row[6].strip():
        raise BankFileError(n, "a FAILED line needs a reason")
    return _ResultLine(n, row[2], _int(row[3], n, "amount"), status == "SUCCESS", row[5], row[6])


def import_result(ledger: Ledger, text: str, actor: Actor = GATEWAY_ACTOR) -> ImportSummary:
    """Apply the bank's result file: all lines or none."""
    batch_id, lines = _parse_result(text)
    commands: list[c.Command] = []
    already = 0
    for x in lines:
        command = _result_command(_sent_disbursement(ledger, x), x, actor)
        if command is None:
            already += 1
        else:
            commands.append(command)
    outcomes = ledger.execute_batch(commands) if commands else []
    errors = [o for o in outcomes if isinstance(o, DomainError)]
    if errors:
        raise BankFileError(0, f"the ledger refused part of the result: {errors[0].message}")
    settled = sum(1 for x in commands if isinstance(x, c.RecordSettlement))
    return ImportSummary(batch_id, settled, len(commands) - settled, already)


def _sent_disbursement(ledger: Ledger, x: _ResultLine) -> Disbursement:
    """The disbursement a result line is about: sent by a bank file under its reference, for its
    amount."""
    parsed = parse_reference(x.reference)
    if parsed is None or reference_channel(x.reference) != "bank":
        raise BankFileError(x.line, f"reference {x.reference!r} is not a kasda bank-file transfer")
    try:
        d = ledger.disbursement(parsed[0])
    except DomainError:
        raise BankFileError(x.line, f"no disbursement for reference {x.reference}") from None
    if d.gateway_reference != x.reference:
        raise BankFileError(x.line, f"reference {x.reference} was not sent (SP2D {d.sp2d_number})")
    if x.amount != d.net:
        raise BankFileError(x.line, f"amount {x.amount} but SP2D {d.sp2d_number} pays {d.net}")
    return d


def _result_command(d: Disbursement, x: _ResultLine, actor: Actor) -> c.Command | None:
    """The fact a result line records: settled or failed; None when the ledger has it already."""
    done = (Status.SETTLED, Status.RETURNED) if x.ok else (Status.FAILED,)
    if d.status in done:
        return None
    if d.status is not Status.SENT:
        raise BankFileError(x.line, f"SP2D {d.sp2d_number} is {d.status}, not sent")
    if x.ok:
        return c.RecordSettlement(
            idempotency_key=f"bpd:{x.reference}:settled",
            bank_reference=x.bank_reference.strip()[:64],
            actor=actor,
            pemda=d.pemda,
            disbursement_id=d.id,
        )
    return c.RecordTransferFailed(
        idempotency_key=f"bpd:{x.reference}:failed",
        reason=f"bank: {x.reason.strip()[:200]}",
        actor=actor,
        pemda=d.pemda,
        disbursement_id=d.id,
    )


def bank_result(batch_text: str, failing_accounts: frozenset[str] = frozenset()) -> str:
    """What the BPD's CMS answers for a batch (used by the simulator, the demo and tests): every
    line succeeds except those to ``failing_accounts``."""
    rows = [r for r in csv.reader(io.StringIO(batch_text)) if r]
    header, details = rows[0], [r for r in rows[1:] if r[0] == "D"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    total = sum(int(r[7]) for r in details)
    writer.writerow(["H", header[1], len(details), total])
    for r in details:
        failed = r[5] in failing_accounts
        writer.writerow(
            [
                "D",
                r[1],
                r[3],
                r[7],
                "FAILED" if failed else "SUCCESS",
                "" if failed else f"BPD{header[1][-8:]}{int(r[1]):05d}",
                "REKENING TIDAK DITEMUKAN" if failed else "",
            ]
        )
    writer.writerow(["T", len(details), total])
    return out.getvalue()
