"""Counts of what the reliability tests tried (bad inputs, fuzzed files, kills survived).

Set ``HANDGRAD_RELIABILITY_REPORT=path.json`` when running pytest and the counts of the run are
written there at the end (``conftest.py``); ``docs/reliability.md`` quotes them.
"""

COUNTS: dict[str, int] = {}


def record(what: str, n: int = 1) -> None:
    COUNTS[what] = COUNTS.get(what, 0) + n
