"""The compiled normalisation kernels (alexnet_core.norm_kernels) against the eager modules they
replace on the CPU: the same values and gradients, gradcheck in float64, bf16 within its rounding."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from alexnet_core import norm_kernels
from alexnet_core.model import LocalResponseNorm, WithinMapNorm

SMALL = (2, 8, 5, 5)


def channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


def both(module, x: torch.Tensor, grad: torch.Tensor):
    """(output, input gradient) through the kernels and eagerly."""
    results = []
    for on in (True, False):
        norm_kernels.use_kernels(on)
        leaf = x.detach().clone().requires_grad_()
        y = module(leaf)
        y.backward(grad)
        results.append((y.detach(), leaf.grad))
    norm_kernels.use_kernels(True)
    return results


MODULES = {
    "LRN across columns": lambda: LocalResponseNorm(5, 1e-2, 0.75, 2.0),
    "LRN within two columns": lambda: LocalResponseNorm(5, 1e-2, 0.75, 2.0, groups=2),
    "LRN, another beta": lambda: LocalResponseNorm(3, 1e-2, 0.6, 1.0),
    "within-map": lambda: WithinMapNorm(alpha=0.5),
}


@pytest.mark.parametrize("name", MODULES)
def test_the_kernels_compute_what_the_eager_modules_compute(name):
    torch.manual_seed(0)
    x = channels_last(torch.randn(SMALL) * 3)
    g = channels_last(torch.randn(SMALL))
    assert norm_kernels.eligible(x) and not norm_kernels.eligible(x.contiguous())
    (y_fast, g_fast), (y_eager, g_eager) = both(MODULES[name](), x, g)
    torch.testing.assert_close(y_fast, y_eager, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g_fast, g_eager, rtol=1e-5, atol=1e-6)
    assert y_fast.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("name", MODULES)
def test_the_kernels_pass_gradcheck_in_float64(name):
    torch.manual_seed(1)
    x = channels_last(torch.randn(SMALL, dtype=torch.float64)).requires_grad_()
    norm_kernels.use_kernels(True)
    assert norm_kernels.eligible(x)
    assert torch.autograd.gradcheck(MODULES[name](), (x,))


@pytest.mark.parametrize("name", MODULES)
def test_bf16_through_the_kernels_agrees_with_float32_within_its_rounding(name):
    torch.manual_seed(2)
    x = channels_last((torch.randn(SMALL) * 3).relu())
    g = channels_last(torch.randn(SMALL))
    (y16, g16), _ = both(MODULES[name](), x.bfloat16(), g.bfloat16())
    (y32, g32), _ = both(MODULES[name](), x, g)
    torch.testing.assert_close(y16.float(), y32, rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(g16.float(), g32, rtol=5e-2, atol=5e-2)


@pytest.mark.parametrize("name", MODULES)
def test_evaluation_and_training_forwards_agree(name):
    """The forward without gradients (evaluation) and with them (training, where the input is
    kept for the backward pass) give the same output."""
    torch.manual_seed(3)
    x = channels_last((torch.randn(SMALL) * 3).relu()).bfloat16()
    module = MODULES[name]()
    norm_kernels.use_kernels(True)
    with torch.no_grad():
        evaluated = module(x)
    trained = module(x.detach().requires_grad_())
    assert trained.requires_grad
    torch.testing.assert_close(evaluated, trained.detach(), rtol=0, atol=0)


def test_the_kernels_can_be_switched_off(monkeypatch):
    x = channels_last(torch.randn(SMALL))
    monkeypatch.setenv(norm_kernels.KERNEL_SETTING, "eager")
    assert not norm_kernels.eligible(x)
    monkeypatch.setenv(norm_kernels.KERNEL_SETTING, "auto")
    assert norm_kernels.eligible(x)


def test_compiling_the_kernels_writes_nothing_to_stderr(tmp_path):
    """The book's pages show a notebook's stderr: the compiler's first build must not speak."""
    code = ("import torch; from alexnet_core.model import LocalResponseNorm; "
            "x = torch.randn(2, 8, 5, 5).contiguous(memory_format=torch.channels_last); LocalResponseNorm()(x)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env={**os.environ, norm_kernels.CACHE_SETTING: str(tmp_path / "cache")})
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert list((tmp_path / "cache").glob("norm_kernels-*.so"))


def test_without_a_compiler_the_normalisation_is_computed_eagerly_with_a_warning(tmp_path):
    code = ("import warnings, torch; from alexnet_core.model import LocalResponseNorm; "
            "from alexnet_core import norm_kernels\n"
            "x = torch.randn(2, 8, 5, 5).contiguous(memory_format=torch.channels_last)\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always'); y = LocalResponseNorm()(x)\n"
            "norm_kernels.use_kernels(False); torch.testing.assert_close(y, LocalResponseNorm()(x))\n"
            "print(caught[0].message)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "CXX": str(tmp_path / "no-such-compiler"),
                               norm_kernels.CACHE_SETTING: str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr
    assert "unavailable here" in done.stdout and "eagerly" in done.stdout


#: AlexNet's channel counts, whole layers and columns, where the kernels unroll the paper's window
#: of 5 (and, for bf16 on AVX-512, go 16 channels a vector): a small map, the real depth.
ALEXNET_SHAPED = {
    "conv1, across columns": (lambda: LocalResponseNorm(5, 1e-4, 0.75, 2.0), (2, 96, 3, 4)),
    "conv1, per column": (lambda: LocalResponseNorm(5, 1e-4, 0.75, 2.0, groups=2), (2, 96, 3, 4)),
    "conv2, per column": (lambda: LocalResponseNorm(5, 1e-4, 0.75, 2.0, groups=2), (2, 256, 3, 4)),
    "conv2, across columns": (lambda: LocalResponseNorm(5, 1e-4, 0.75, 2.0), (2, 256, 3, 4)),
    "within-map after conv2": (WithinMapNorm, (3, 256, 6, 7)),
}


@pytest.mark.parametrize("name", ALEXNET_SHAPED)
def test_alexnet_shaped_activations_agree_in_float32_and_in_bf16(name):
    make, shape = ALEXNET_SHAPED[name]
    torch.manual_seed(4)
    x = channels_last((torch.randn(shape) * 30).relu())  # large enough that the window's sum matters
    g = channels_last(torch.randn(shape))
    (y_fast, g_fast), (y_eager, g_eager) = both(make(), x, g)
    torch.testing.assert_close(y_fast, y_eager, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g_fast, g_eager, rtol=1e-5, atol=1e-6)
    (y16, g16), _ = both(make(), x.bfloat16(), g.bfloat16())
    # within a bf16 rounding (2^-8 relative) of the float32 result, plus the input's own rounding
    torch.testing.assert_close(y16.float(), y_eager, rtol=2 ** -7, atol=1e-3)
    torch.testing.assert_close(g16.float(), g_eager, rtol=2 ** -6, atol=2e-3)


def test_a_window_wider_than_the_kernels_take_is_computed_eagerly():
    x = channels_last(torch.rand(1, 4, 3, 3))
    assert norm_kernels.compiled_lrn(x, norm_kernels.MAX_WINDOW + 2, 1e-2, 0.75, 1.0, groups=0) is None
    assert norm_kernels.compiled_lrn(x, 3, 1e-2, 0.75, 1.0, groups=0) is not None


def test_a_nan_in_the_activations_comes_out_as_nan():
    """The kernels are compiled with -ffast-math: a diverging run must still show its NaN."""
    x = channels_last(torch.rand(2, 96, 3, 3))
    x[0, 10, 1, 1] = float("nan")
    for dtype in (torch.float32, torch.bfloat16):
        norm_kernels.use_kernels(True)
        y = LocalResponseNorm(5, 1e-4, 0.75, 2.0)(x.to(dtype))
        assert y[0, 10, 1, 1].isnan() and not y[1].isnan().any()


#: Shapes the kernels' loops must get right beyond AlexNet's: more pixels than one tile of runs
#: (4096 floats), images taller than the within-map ring of rows, windows of 3 and 7, three
#: columns, channels not a multiple of 16 (bf16 off the vector path), a batch of one.
EDGES = {
    "many tiles, groups 3": (lambda: LocalResponseNorm(3, 1e-2, 0.75, 2.0, groups=3), (2, 48, 9, 11)),
    "window 7, 40 channels": (lambda: LocalResponseNorm(7, 1e-2, 0.75, 1.0), (1, 40, 5, 3)),
    "window wider than the channels": (lambda: LocalResponseNorm(9, 1e-2, 0.75, 1.0), (2, 4, 3, 3)),
    "within-map, tall image, window 3": (lambda: WithinMapNorm(size=3, alpha=0.5), (2, 16, 13, 5)),
    "within-map, window 7 over a small image": (lambda: WithinMapNorm(size=7, alpha=0.5), (1, 20, 4, 9)),
}


@pytest.mark.parametrize("name", EDGES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_edge_shapes_agree_with_the_eager_modules(name, dtype):
    make, shape = EDGES[name]
    torch.manual_seed(5)
    x = channels_last((torch.randn(shape) * 3).relu())
    g = channels_last(torch.randn(shape))
    (y_fast, g_fast), (y_eager, g_eager) = both(make(), x.to(dtype), g.to(dtype))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=2 ** -7, atol=1e-3)
    torch.testing.assert_close(y_fast.float(), y_eager.float(), **tol)
    torch.testing.assert_close(g_fast.float(), g_eager.float(), **tol)


def test_an_empty_batch_passes_through():
    x = channels_last(torch.rand(0, 8, 3, 3)).requires_grad_()
    y = LocalResponseNorm(1, 1e-2, 0.75, 2.0)(x)
    y.sum().backward()
    assert y.shape == x.shape and x.grad.shape == x.shape


def test_loading_the_kernels_leaves_denormal_numbers_alone():
    """Linked with -ffast-math, GCC's start-up code would make the loading thread flush
    denormals to zero, changing torch's own arithmetic on some threads."""
    norm_kernels.library()
    tiny = torch.full((1 << 16,), 1e-39)
    assert (tiny * 1.0).count_nonzero() == tiny.numel()


def test_a_second_derivative_through_the_kernels_raises():
    x = channels_last(torch.rand(1, 8, 3, 3, dtype=torch.float64)).requires_grad_()
    norm_kernels.use_kernels(True)
    (grad,) = torch.autograd.grad(LocalResponseNorm(3, 1e-2, 0.75, 1.0)(x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError):
        grad.sum().backward()


@pytest.mark.parametrize("groups", [0, -1, 1.5])
def test_columns_must_be_a_whole_number_from_one(groups):
    with pytest.raises(ValueError, match="groups"):
        LocalResponseNorm(5, 1e-4, 0.75, 2.0, groups=groups)


def test_a_result_at_an_address_off_the_streaming_stores_alignment_is_the_same():
    """The bf16 kernels store results past the caches where the address is 32-byte aligned (every
    tensor torch allocates is) and plainly elsewhere: both give the same bits."""
    torch.manual_seed(4)
    a = channels_last((torch.randn(2, 32, 6, 6) * 3).relu().to(torch.bfloat16))
    g = channels_last(torch.randn(2, 32, 6, 6).to(torch.bfloat16))
    lib = norm_kernels.library()
    for grad in (None, g):
        aligned = torch.empty(a.numel(), dtype=torch.bfloat16)
        shifted = torch.empty(a.numel() + 1, dtype=torch.bfloat16)[1:]  # 2 bytes past the alignment
        assert aligned.data_ptr() % 32 == 0 and shifted.data_ptr() % 32 != 0
        for out in (aligned, shifted):
            lib.bf16_cross_map(a.data_ptr(), None if grad is None else grad.data_ptr(), out.data_ptr(),
                               0, 2 * 6 * 6, 32, 2, 5, 1e-2, 0.75, 2.0)
        assert torch.equal(aligned, shifted)
        for out in (aligned, shifted):
            lib.bf16_within_map(a.data_ptr(), None if grad is None else grad.data_ptr(), out.data_ptr(),
                                0, 2, 6, 6, 32, 5, 1e-2, 0.75, 1.0)
        assert torch.equal(aligned, shifted)
        expected = norm_kernels._run(a, grad, 5, 1e-2, 0.75, 1.0, 0)
        assert torch.equal(aligned, expected.permute(0, 2, 3, 1).reshape(-1))
