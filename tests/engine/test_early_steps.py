"""Early-training diagnostics: dead ReLU units and the early-steps command."""
import json

import torch
from torch import nn

from alexnet_core.book.engine import diagnostics as stability
from alexnet_core.__main__ import main
from alexnet_core.book.engine.diagnostics import dead_units, load_early_steps


def test_dead_units_counts_units_no_input_turns_on():
    linear = nn.Linear(2, 4)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0], [0.0, 0.0]]))
        linear.bias.copy_(torch.tensor([0.0, 0.0, -10.0, 0.0]))  # unit 2 never fires, unit 3 is always 0
    model = nn.Sequential(linear, nn.ReLU())
    dead = dead_units(model, torch.rand(16, 2) + 0.1)  # positive inputs
    assert dead == {"1": 0.5}
    conv = nn.Sequential(nn.Conv2d(1, 2, 1), nn.ReLU())
    with torch.no_grad():
        conv[0].weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
        conv[0].bias.zero_()
    assert dead_units(conv, torch.rand(3, 1, 4, 4) + 0.1) == {"1": 0.5}  # per channel
    assert conv.training  # the model's mode is restored


def test_early_steps_command_records_per_step_losses_for_each_variant_and_seed(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(stability, "DIAGNOSTICS_DIR", tmp_path)
    monkeypatch.delenv("ALEXNET_DATA", raising=False)
    assert main(["early-steps", "lrn_cifar", "--profile", "smoke", "--steps", "2", "--seeds", "0,1",
                 "--lrs", "0.01,0.001"]) == 0
    result = load_early_steps("smoke", "lrn_cifar", tmp_path)
    assert result == json.loads((tmp_path / "smoke" / "early-steps-lrn_cifar.json").read_text())
    rows = result["rows"]
    assert {(r["variant"], r["seed"], r["lr"]) for r in rows} == {
        (v, s, lr) for v in ("lrn", "no-lrn") for s in (0, 1) for lr in (0.01, 0.001)}
    assert all(len(r["step_losses"]) == 2 and 0 <= r["dead_units"]["act1"] <= 1 for r in rows)
    assert result["provenance"]["commit"] and result["steps"] == 2
    assert main(["early-steps", "lrn_cifar", "--profile", "smoke", "--seeds", "zero"]) == 2
    assert "--seeds takes integers" in capsys.readouterr().err


def test_diagnostics_are_not_taken_for_run_records(tmp_path):
    from alexnet_core.book.engine.records import run_record_paths

    for rel in ("cpu/lrn_alexnet/lrn-s0.json", "diagnostics/cpu/early-steps-dropout.json"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    assert [p.relative_to(tmp_path).as_posix() for p in run_record_paths(tmp_path)] == ["cpu/lrn_alexnet/lrn-s0.json"]
    assert run_record_paths(tmp_path, "cpu") == [tmp_path / "cpu/lrn_alexnet/lrn-s0.json"]
