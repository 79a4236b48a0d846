import os
import subprocess
import sys

import pytest

from w2v2jax import allocator

SNIPPET = (
    "from w2v2jax import allocator; allocator.reexec_with_tcmalloc(); "
    "import os; print(os.environ.get('LD_PRELOAD', ''))"
)


def _run(**env):
    base = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "W2V2JAX_TCMALLOC")}
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET],
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.skipif(allocator.tcmalloc_path() is None, reason="libtcmalloc-minimal4 not installed")
def test_entry_points_reexecute_under_tcmalloc():
    assert _run() == allocator.tcmalloc_path()
    assert _run(W2V2JAX_TCMALLOC="0") == ""
