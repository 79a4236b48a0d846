"""metrics.jsonl survives a kill in the middle of an append (issue 13, item 4)."""

import json

import pytest

from w2v2jax.errors import WorkdirError
from w2v2jax.train.metrics import MetricsWriter, read_metrics


def _write(path, rows, tail=""):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + tail)


def test_torn_last_line_is_dropped_with_a_warning(tmp_path, caplog):
    _write(tmp_path / "metrics.jsonl", [{"step": 1, "loss": 2.0}], tail='{"step": 2, "lo')
    assert read_metrics(str(tmp_path)) == [{"step": 1, "loss": 2.0}]
    assert "torn last line" in caplog.text
    # and the resumed run's writer cuts the file back to whole lines
    MetricsWriter(str(tmp_path), resume_step=1).close()
    assert (tmp_path / "metrics.jsonl").read_text() == '{"step": 1, "loss": 2.0}\n'


def test_a_damaged_line_inside_names_the_file_and_line(tmp_path):
    _write(tmp_path / "metrics.jsonl", [{"step": 1}], tail='garbage\n{"step": 3}\n')
    with pytest.raises(WorkdirError, match=r"metrics.jsonl:2 is not a JSON line"):
        read_metrics(str(tmp_path))
