"""Figure 2: sinusoidal embeddings (the model's own `sinusoid_table`), a few dimensions.

PE[p, 2i] = sin(p / 10000^(2i/D)), PE[p, 2i+1] = cos(same): low dimensions turn fast
(local order), high ones slowly (coarse position); no two positions share a vector.
"""

import matplotlib.pyplot as plt

from experiments.figures.output import save
from w2v2jax.models import sinusoid_table

POSITIONS = 200  # frames: 4 s of audio at 20 ms


def dims_for(d: int) -> list[int]:
    """Sine/cosine pairs at the start, at 16 (the post's example) and deeper in."""
    return sorted({x for x in (0, 1, 16, 17, d // 4, d // 2) if x < d})


def draw(cfg, out: str) -> list[str]:
    d = cfg.hidden_size
    table = sinusoid_table(POSITIONS, d)
    dims = dims_for(d)
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4.2))
    for j in dims:
        a.plot(range(POSITIONS), table[:, j], label=f"dim {j} ({'sin' if j % 2 == 0 else 'cos'})")
    a.set(xlabel="position (frame, 20 ms)", ylabel="PE[position, dim]")
    a.legend(fontsize=8, ncol=2, loc="lower left")
    a.set_title(f"Sinusoidal embedding, D={d}: a few dimensions")
    im = b.imshow(table.T, aspect="auto", origin="lower", cmap="RdBu_r", vmin=-1, vmax=1)
    b.set(xlabel="position (frame)", ylabel="dimension", title="all dimensions")
    fig.colorbar(im, ax=b)
    fig.tight_layout()
    rows = [
        {"position": p, **{f"dim_{j}": float(table[p, j]) for j in dims}} for p in range(POSITIONS)
    ]
    full = [
        {"position": p, **{f"dim_{j}": round(float(table[p, j]), 5) for j in range(d)}}
        for p in range(POSITIONS)
    ]
    return save(fig, out, "2_sinusoids", rows, extra={"table": full})
