"""The architecture page (sections 3.1-3.5): Figure 2 redrawn from this project's model, its
shapes taken from a forward pass. Sizes follow :mod:`.style`."""
from __future__ import annotations

import textwrap

import torch
from torch import nn

from alexnet_core.model import AlexNet, count_parameters, layer_table
from alexnet_core.book.pages.style import PALETTE, SMALLEST_FONT, WIDTH

#: What a module after a weight layer does, as Figure 2's labels name it.
_OP_NAMES = {nn.ReLU: "ReLU", nn.Tanh: "tanh", nn.Dropout: "dropout"}


def _op_name(module: nn.Module) -> str | None:
    """A short name for a module that follows a weight layer (None for one that does nothing)."""
    if isinstance(module, (nn.Identity, nn.Flatten)):
        return None
    if isinstance(module, nn.MaxPool2d):
        return f"max-pool {module.kernel_size}/{module.stride}"
    if isinstance(module, nn.AvgPool2d):
        return f"avg-pool {module.kernel_size}/{module.stride}"
    for kind, name in _OP_NAMES.items():
        if isinstance(module, kind):
            return name
    return "LRN" if type(module).__name__ == "LocalResponseNorm" else type(module).__name__


def _traced_modules(model: nn.Module, size: int) -> list[tuple[str, nn.Module, tuple[int, ...]]]:
    """Every leaf module in the order one image's forward pass calls it, with its output's shape."""
    calls: list[tuple[str, nn.Module, tuple[int, ...]]] = []
    hooks = [m.register_forward_hook(lambda mod, inp, out, name=name: calls.append((name, mod, tuple(out.shape[1:]))))
             for name, m in model.named_modules() if not list(m.children())]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, size, size, device=next(model.parameters()).device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return calls


def architecture_layers(model: nn.Module, input_size: int | None = None) -> list[dict]:
    """Figure 2's layers, traced through a forward pass of one zero image: per weight layer its
    kernel, output shape, the operations after it (and the shape they leave), how many columns
    its output is split into (2 where it or the next layer is a grouped convolution) and what it
    sees of the layer before (``own column``, ``both columns`` or ``all``)."""
    size = input_size or getattr(model, "input_size", 224)
    layers: list[dict] = [dict(name="input", kernel="image", shape=(3, size, size), ops=[], after=(3, size, size),
                               groups=1)]
    for name, module, shape in _traced_modules(model, size):
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            conv = isinstance(module, nn.Conv2d)
            kernel = (f"{module.kernel_size[0]}×{module.kernel_size[1]}"
                      + (f", stride {module.stride[0]}" if module.stride[0] > 1 else "") if conv else "fully connected")
            layers.append(dict(name=name, kernel=kernel, shape=shape, ops=[], after=shape,
                               groups=module.groups if conv else 1))
        elif (op := _op_name(module)) is not None and len(layers) > 1:
            layers[-1]["ops"].append(op)
            layers[-1]["after"] = shape
    for before, layer, after in zip(layers, layers[1:], layers[2:] + [None]):
        layer["columns"] = max(layer["groups"], after["groups"] if after else 1)
        layer["sees"] = ("all" if before.get("columns", 1) == 1 else
                         "own column" if layer["groups"] == before["columns"] else "both columns")
    layers[0].update(columns=1, sees="")
    return layers


def _shape_text(shape: tuple[int, ...], columns: int) -> str:
    return "×".join(map(str, (shape[0] // columns, *shape[1:])))


def _box(ax, x: float, y: float, width: float, lines: list[str], colour: str) -> None:
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - width / 2, y - 0.27), width, 0.54, boxstyle="round,pad=0.02",
                                facecolor=colour, edgecolor="#333333", linewidth=0.8, alpha=0.9))
    ax.text(x, y, "\n".join(lines), ha="center", va="center", fontsize=SMALLEST_FONT)


def architecture_figure(model: nn.Module, input_size: int | None = None):
    """The network as the paper's Figure 2 draws it, one row per layer from the input down: a box
    per column holding that column's output shape (and the shape after pooling), the kernel and
    the operations after it at the left; arrows show which columns each layer sees."""
    import matplotlib.pyplot as plt

    layers = architecture_layers(model, input_size)
    two = max(layer["columns"] for layer in layers) > 1
    centres = {1: [3.75], 2: [2.8, 4.7]}
    top = 0.5 if two else 0.2
    fig = plt.figure(figsize=(WIDTH, top + 0.85 * len(layers) - 0.4), layout="none")
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set(xlim=(0, WIDTH), ylim=(-0.85 * len(layers) + 0.4, top))
    ax.axis("off")
    if two:
        for x, label in zip(centres[2], ("column 1 (GPU 1)", "column 2 (GPU 2)")):
            ax.text(x, 0.3, label, ha="center", va="center", fontsize=SMALLEST_FONT + 1, weight="bold")
    for i, layer in enumerate(layers):
        y = -0.85 * i - 0.1
        cols = layer["columns"]
        width = 1.75 if cols == 2 else 3.65
        shape = [_shape_text(layer["shape"], cols)]
        if layer["after"] != layer["shape"]:
            shape.append("pooled " + _shape_text(layer["after"], cols))
        for x in centres[cols]:
            _box(ax, x, y, width, shape, PALETTE[5] if layer["name"].startswith("conv") else
                 PALETTE[4] if layer["name"].startswith("fc") else "#DDDDDD")
        ops = textwrap.fill(", ".join(layer["ops"]), 18, break_on_hyphens=False)
        ax.text(0.05, y, f"{layer['name']}: {layer['kernel']}" + (f"\n{ops}" if ops else ""), ha="left",
                va="center", fontsize=SMALLEST_FONT, linespacing=1.1)
        if i:
            _arrows(ax, centres[layers[i - 1]["columns"]], centres[cols], y + 0.58, y + 0.27, layer["sees"])
    return fig


def _arrows(ax, upper: list[float], lower: list[float], top: float, bottom: float, sees: str) -> None:
    """Arrows from the boxes above to those below: column to column where a layer sees only its own
    column, from every box above to every box below otherwise."""
    pairs = list(zip(upper, lower)) if sees == "own column" else [(a, b) for a in upper for b in lower]
    for a, b in pairs:
        ax.annotate("", (b, bottom), (a, top), arrowprops=dict(arrowstyle="->", color="#333333", linewidth=1))


def layer_frame(model: nn.Module):
    """Per layer of ``model``: kind, output shape, neurons, parameters and multiply-adds, with a
    total row (section 3.5's counts: "60 million parameters and 650,000 neurons")."""
    import pandas as pd

    table = pd.DataFrame([{
        "layer": r["layer"], "kind": r["kind"], "output (C x H x W)": " x ".join(map(str, r["output_shape"])),
        "neurons": r["neurons"], "parameters": r["params"], "multiply-adds": r["macs"]} for r in layer_table(model)])
    total = {"layer": "total", "kind": "", "output (C x H x W)": "", "neurons": table.neurons.sum(),
             "parameters": table.parameters.sum(), "multiply-adds": table["multiply-adds"].sum()}
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def counts(model: nn.Module) -> dict[str, str]:
    """The page's glued counts (section 3.5): parameters with and without the two columns' split,
    neurons, billions of multiply-adds, and conv1's neurons, as the page prints them."""
    table = layer_frame(model)
    return {"total_params": f"{count_parameters(model):,}",
            "total_params_ungrouped": f"{count_parameters(AlexNet(groups=1)):,}",
            "total_neurons": f"{int(table.neurons.iloc[-1]):,}",
            "total_macs": f"{table['multiply-adds'].iloc[-1] / 1e9:.2f}",
            "conv1_neurons": f"{int(table.neurons.iloc[0]):,}"}


def layer_table_styled(model: nn.Module):
    """:func:`layer_frame` as the page shows it, with thousands separators."""
    return layer_frame(model).style.format(thousands=",").hide(axis="index")
