"""Device and precision detection: bf16 only where the CPU runs it natively, fp32 elsewhere."""
import warnings

import pytest
import torch

from alexnet_core import hardware
from alexnet_core.provenance import provenance


@pytest.mark.parametrize("flags, isa, fast", [
    ({"avx2", "avx512f", "avx512_bf16", "amx_bf16"}, "AMX-BF16", True),
    ({"avx2", "avx512f", "avx512_bf16"}, "AVX512-BF16", True),
    ({"avx2", "avx512f"}, "AVX512", False),
    ({"avx2", "fma"}, "AVX2", False),
    ({"sse2"}, "older", False),
    (set(), "unknown", False),
])
def test_cpu_isa_and_auto_precision_follow_the_flags(monkeypatch, flags, isa, fast):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset(flags))
    assert hardware.cpu_isa() == isa
    assert hardware.cpu_has_fast_bf16() is fast
    cpu = torch.device("cpu")
    assert hardware.resolve_precision("auto", cpu) == ("bf16" if fast else "fp32")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert hardware.resolve_precision("bf16", cpu) == "bf16"  # asked for explicitly, it is honoured
    assert [("emulated" in str(w.message)) for w in caught] == ([] if fast else [True])
    assert hardware.resolve_precision("fp32", cpu) == "fp32"


def test_unknown_precision_and_device_name_the_choices():
    with pytest.raises(ValueError, match="choose auto, fp32 or bf16"):
        hardware.resolve_precision("fp16", torch.device("cpu"))
    with pytest.raises(ValueError, match="choose auto, cpu, cuda or cuda:N"):
        hardware.resolve_device("tpu")


def test_cpu_provenance_names_the_instruction_set(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset({"avx2"}))
    record = provenance(torch.device("cpu"), "fp32")
    assert record["cpu_isa"] == "AVX2"
    assert record["device_type"] == "cpu"
    assert record["machine_load_15min"] >= 0  # says whether other work shared the cores
