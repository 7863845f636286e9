"""The camt.053 fast layout in one pass (C; ``_camt053_scan.c``), optional."""

def scan(text: str, first_line: int, first_piece: bool, /) -> tuple[bytes, int, int] | None:
    """One piece: (rows, entries, balance), or None when the piece is declined."""
