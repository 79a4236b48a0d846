"""Rows (a list of dicts) as CSV files: how every experiment writes the numbers it plots."""

import csv


def write_csv(path: str, rows: list[dict]) -> None:
    """One column per key, in the order keys first appear; a row without a key leaves
    its cell empty."""
    keys = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


def read_csv(path: str) -> list[dict]:
    """The rows `write_csv` wrote, every value a string."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
