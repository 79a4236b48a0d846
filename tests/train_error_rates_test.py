import pytest

from w2v2jax.train.error_rates import ErrorRates, edit_distance


def test_edit_distance_and_rates():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert edit_distance(["a", "b"], ["a", "b"]) == 0
    r = ErrorRates()
    r.add("one two", "one too")
    r.add("three", "three")
    assert r.cer == pytest.approx(1 / 12)
    assert r.wer == pytest.approx(1 / 3)
