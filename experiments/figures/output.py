"""Where every figure goes: NAME.png and NAME.pdf, with the plotted numbers in NAME.csv."""

import os

import matplotlib

matplotlib.use("Agg")  # files only; no display on the machines this runs on
import matplotlib.pyplot as plt

from experiments.csv_rows import write_csv


def save(fig, out: str, name: str, rows: list[dict], extra: dict | None = None) -> list[str]:
    """Writes the figure twice (PNG for reading, PDF for papers) and its data as CSV.

    extra: {suffix: rows} for data of another shape (written as NAME_suffix.csv).
    """
    os.makedirs(out, exist_ok=True)
    paths = [os.path.join(out, f"{name}.{ext}") for ext in ("png", "pdf")]
    fig.savefig(paths[0], dpi=130, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    for suffix, data in {"": rows, **(extra or {})}.items():
        path = os.path.join(out, f"{name}{'_' + suffix if suffix else ''}.csv")
        write_csv(path, data)
        paths.append(path)
    return paths
