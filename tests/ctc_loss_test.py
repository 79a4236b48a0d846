"""w2v2jax.ctc.ctc_loss against torch (float64 and float32) and optax, values and gradients.

Legend: B batch, T frames, V vocabulary, U label length.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

from w2v2jax.ctc import ctc_loss, ctc_loss_reduced


def repeats(labels):
    return int(np.sum(labels[1:] == labels[:-1]))


# Tests share these padded shapes so that each compiles once: (B, T, U, V).
SMALL = {"frames": 42, "num_labels": 24, "vocab": 6}
SMALL_BATCH = ([40, 25, 12, 7, 1, 2], [20, 5, 0, 3, 0, 1])  # frames_B, label lengths_B


def make_batch(rng, frames_B, label_lengths_B, vocab, frames, num_labels, *, blank_id=0):
    """Mixed-length batch: right-padded frames and labels, some labels repeated on purpose."""
    batch = len(frames_B)
    logits_BxTxV = 2.0 * rng.normal(size=(batch, frames, vocab))
    labels_BxU = np.full((batch, num_labels), -1, np.int32)  # padding holds junk on purpose
    for b, length in enumerate(label_lengths_B):
        row = rng.choice([v for v in range(vocab) if v != blank_id], size=length)
        for u in range(1, length):
            if rng.random() < 0.3:
                row[u] = row[u - 1]
        labels_BxU[b, :length] = row
    paddings_BxT = (np.arange(frames)[None] >= np.asarray(frames_B)[:, None]).astype(np.float64)
    label_paddings_BxU = (
        np.arange(num_labels)[None] >= np.asarray(label_lengths_B)[:, None]
    ).astype(np.float64)
    return logits_BxTxV, paddings_BxT, labels_BxU, label_paddings_BxU


def torch_reference(logits_BxTxV, paddings_BxT, labels_BxU, label_paddings_BxU, **kwargs):
    """torch.nn.functional.ctc_loss in float64, gradient taken wrt the logits."""
    logits = torch.tensor(np.asarray(logits_BxTxV, np.float64), requires_grad=True)
    blank = kwargs.get("blank", 0)
    targets = np.where(label_paddings_BxU > 0.5, (blank + 1) % logits.shape[2], labels_BxU)
    loss_B = torch.nn.functional.ctc_loss(
        logits.log_softmax(-1).transpose(0, 1),
        torch.tensor(targets.astype(np.int64)),
        torch.tensor((1 - paddings_BxT).sum(1).astype(np.int64)),
        torch.tensor((1 - label_paddings_BxU).sum(1).astype(np.int64)),
        reduction="none",
        **kwargs,
    )
    loss_B.sum().backward()
    return loss_B.detach().numpy(), logits.grad.numpy()


def value_and_grad(batch, dtype, loss_fn=ctc_loss, **kwargs):
    """Per-sequence losses and the gradient of their sum wrt the logits, in one pass."""
    logits, paddings, labels, label_paddings = batch

    def total(x):
        loss_B = loss_fn(x, paddings, labels, label_paddings, **kwargs)
        return jnp.sum(loss_B), loss_B

    grad, loss_B = jax.grad(total, has_aux=True)(jnp.asarray(logits, dtype))
    return np.asarray(loss_B), np.asarray(grad)


def small_batch(seed, **kwargs):
    return make_batch(np.random.default_rng(seed), *SMALL_BATCH, **SMALL, **kwargs)


# Mixed lengths, empty labels, lengths 0 and 1, repeats, V up to 400.
CASES = [
    (SMALL_BATCH + (SMALL["vocab"], SMALL["frames"], SMALL["num_labels"])),
    ([60, 45, 50, 20], [15, 30, 0, 10], 400, 62, 32),
]


@pytest.mark.parametrize("frames_B, label_lengths_B, vocab, frames, num_labels", CASES)
def test_float64_values_and_gradients_match_torch(
    frames_B, label_lengths_B, vocab, frames, num_labels
):
    rng = np.random.default_rng(vocab)
    batch = make_batch(rng, frames_B, label_lengths_B, vocab, frames, num_labels)
    expected_loss, expected_grad = torch_reference(*batch)
    with jax.enable_x64(True):
        loss, grad = value_and_grad(batch, jnp.float64)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("frames_B, label_lengths_B, vocab, frames, num_labels", CASES)
def test_float32_matches_torch_and_optax(frames_B, label_lengths_B, vocab, frames, num_labels):
    rng = np.random.default_rng(vocab + 1)
    batch = make_batch(rng, frames_B, label_lengths_B, vocab, frames, num_labels)
    expected_loss, expected_grad = torch_reference(*batch)
    loss, grad = value_and_grad(batch, jnp.float32)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-4)
    np.testing.assert_allclose(grad, expected_grad, atol=2e-4)
    logits, paddings, labels, label_paddings = batch
    # optax reads padded labels for its repeat mask: give it in-vocabulary ones.
    optax_batch = (logits, paddings, np.maximum(labels, 0), label_paddings)
    optax_loss, optax_grad = value_and_grad(optax_batch, jnp.float32, jax.jit(optax.ctc_loss))
    np.testing.assert_allclose(loss, optax_loss, rtol=1e-4)
    np.testing.assert_allclose(grad, optax_grad, atol=2e-4)


def test_other_blank_id_matches_torch():
    batch = small_batch(3, blank_id=5)
    expected_loss, expected_grad = torch_reference(*batch, blank=5)
    with jax.enable_x64(True):
        loss, grad = value_and_grad(batch, jnp.float64, blank_id=5)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-9)
    np.testing.assert_allclose(grad, expected_grad, atol=1e-9)


def test_minimal_frame_count_and_infeasible_pairs():
    """Repeats need a blank between them: U + repeats frames fit, one frame fewer does not."""
    labels = np.array([[1, 1, 2, 2, 2, 3]], np.int32)
    needed = labels.shape[1] + repeats(labels[0])  # 6 + 3
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(1, needed, 4))
    no_pad = np.zeros((1, 6))
    fits = ctc_loss(logits, np.zeros((1, needed)), labels, no_pad)
    expected, _ = torch_reference(logits, np.zeros((1, needed)), labels, no_pad)
    np.testing.assert_allclose(fits, expected, rtol=1e-5)
    short_paddings = np.zeros((1, needed))
    short_paddings[0, -1] = 1.0
    assert np.isinf(ctc_loss(logits, short_paddings, labels, no_pad))[0]
    assert ctc_loss(logits, short_paddings, labels, no_pad, zero_infinity=True)[0] == 0.0


@pytest.mark.parametrize("zero_infinity", [False, True])
def test_infeasible_rows_have_finite_zero_gradient(zero_infinity):
    batch = small_batch(1)
    batch[1][1, 4:] = 1.0  # row 1: 5 labels in 4 frames
    loss, grad = value_and_grad(batch, jnp.float32, zero_infinity=zero_infinity)
    assert loss[1] == (0.0 if zero_infinity else np.inf)
    assert np.isfinite(loss[0]) and loss[0] > 0
    assert np.all(np.isfinite(grad)) and np.all(grad[1] == 0.0)
    expected_loss, expected_grad = torch_reference(*batch, zero_infinity=True)
    np.testing.assert_allclose(np.where(np.isinf(loss), 0.0, loss), expected_loss, rtol=1e-4)
    np.testing.assert_allclose(grad, expected_grad, atol=2e-4)


def test_never_negative_on_near_certain_alignment():
    labels = np.array([[1, 2, 3]], np.int32)
    path = [0, 1, 1, 0, 2, 3, 3, 0]
    logits = np.full((1, len(path), 4), -30.0, np.float32)
    logits[0, np.arange(len(path)), path] = 30.0
    loss = ctc_loss(logits, np.zeros((1, len(path))), labels, np.zeros((1, 3)))
    assert 0.0 <= float(loss[0]) < 1e-5


def test_padded_frames_change_nothing():
    batch = small_batch(2)
    logits, paddings, labels, label_paddings = batch
    noisy = np.where(paddings[:, :, None] > 0.5, 100.0 * np.sign(logits), logits)
    loss, grad = value_and_grad(batch, jnp.float32)
    noisy_loss, noisy_grad = value_and_grad((noisy, paddings, labels, label_paddings), jnp.float32)
    np.testing.assert_array_equal(loss, noisy_loss)
    np.testing.assert_array_equal(grad, noisy_grad)
    assert np.all(grad[paddings > 0.5] == 0.0)


def test_bfloat16_logits_accumulate_in_float32():
    batch = make_batch(np.random.default_rng(4), [50, 40], [20, 12], 30, 50, 20)
    rounded = np.asarray(jnp.asarray(batch[0], jnp.bfloat16).astype(jnp.float32))
    loss, grad = value_and_grad(batch, jnp.bfloat16)
    expected_loss, expected_grad = torch_reference(rounded, *batch[1:])
    assert loss.dtype == np.float32 and grad.dtype == jnp.bfloat16
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-5)
    np.testing.assert_allclose(grad.astype(np.float32), expected_grad, atol=1e-2)


def test_vmap_over_an_extra_batch_axis_equals_plain_calls():
    rng = np.random.default_rng(5)
    batches = [make_batch(rng, *SMALL_BATCH, **SMALL) for _ in range(3)]
    stacked = [np.stack(parts) for parts in zip(*batches, strict=True)]

    def loss_and_grad(logits, paddings, labels, label_paddings):
        def total(x):
            return jnp.sum(ctc_loss(x, paddings, labels, label_paddings))

        return ctc_loss(logits, paddings, labels, label_paddings), jax.grad(total)(logits)

    loss_NxB, grad_NxBxTxV = jax.jit(jax.vmap(loss_and_grad))(*stacked)
    for n in range(3):
        loss_B, grad_BxTxV = loss_and_grad(*(part[n] for part in stacked))
        np.testing.assert_allclose(loss_NxB[n], loss_B, rtol=1e-6)
        np.testing.assert_allclose(grad_NxBxTxV[n], grad_BxTxV, atol=1e-5)  # fp32 rounding


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_reduced_matches_torch(reduction):
    batch = small_batch(6)
    logits, paddings, labels, label_paddings = batch
    expected = torch.nn.functional.ctc_loss(
        torch.tensor(logits).log_softmax(-1).transpose(0, 1),
        torch.tensor(np.maximum(labels, 1).astype(np.int64)),
        torch.tensor((1 - paddings).sum(1).astype(np.int64)),
        torch.tensor((1 - label_paddings).sum(1).astype(np.int64)),
        reduction=reduction,
    )
    with jax.enable_x64(True):
        got = ctc_loss_reduced(*batch, reduction=reduction)
    np.testing.assert_allclose(got, expected.item(), rtol=1e-9)


def test_no_batch_time_label_vocab_tensor_is_built():
    batch, frames, vocab, num_labels = 2, 20, 11, 7
    logits, paddings, labels, label_paddings = make_batch(
        np.random.default_rng(7), [frames] * batch, [num_labels] * batch, vocab, frames, num_labels
    )

    def total(x):
        return jnp.sum(ctc_loss(x, paddings, np.maximum(labels, 0), label_paddings))

    hlo = jax.jit(jax.value_and_grad(total)).lower(jnp.asarray(logits, jnp.float32)).as_text()
    sizes = [
        np.prod([int(d) for d in dims.split("x")]) for dims in re.findall(r"<(\d[\dx]*)x", hlo)
    ]
    assert max(sizes) < batch * frames * num_labels * vocab


def test_jit_of_the_loss_checks_shapes_only():
    batch = small_batch(8)
    got = jax.jit(lambda *a: ctc_loss(*a))(*batch)
    np.testing.assert_allclose(got, ctc_loss(*batch), rtol=1e-6)
    with pytest.raises(ValueError, match="label_paddings_BxU"):
        jax.jit(lambda *a: ctc_loss(*a))(*batch[:3], batch[3][:, :1])
