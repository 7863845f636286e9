"""The per-row work of ``kasda verify --export`` (C; ``_export_check.c``), optional."""

from _typeshed import ReadableBuffer as Buffer

def check_rows(
    positions: Buffer,
    versions: Buffer,
    columns: tuple[object, ...],
    jsonl: Buffer,
    start: int,
    end: int,
    previous: bytes,
    /,
) -> tuple[bytes, list[int], list[tuple[int, int, int]]] | None:
    """One slice: None when it does not hold, else (head, rows whose body is left to Python,
    (row, start, end) of the lines left to Python)."""

def body_vouched(body: str, state: bytes, /) -> bool:
    """True when plain_json(json.loads(state)) == json.loads(body) for certain; False: declined."""

def line_ends(jsonl: Buffer, start: int, count: int, /) -> int:
    """The offset after ``count`` more lines from ``start``, or -1 if there are fewer."""
