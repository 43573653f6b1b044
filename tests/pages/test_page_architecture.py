"""The architecture page (sections 3.1-3.5): its layer table and the counts it glues."""
from alexnet_core.model import AlexNet, count_parameters
from alexnet_core.book.pages import architecture


def test_the_counts_read_the_layer_table_and_its_total_row():
    model = AlexNet()
    table = architecture.layer_frame(model)
    counts = architecture.counts(model)
    assert table.iloc[-1]["layer"] == "total" and table.iloc[-1]["parameters"] == table.parameters.iloc[:-1].sum()
    assert counts["total_params"] == f"{count_parameters(model):,}"
    assert counts["conv1_neurons"] == f"{96 * 55 * 55:,}"  # 290,400: conv1's 96 maps of 55 x 55
    assert counts["total_params_ungrouped"] != counts["total_params"]  # one column sees every map
    assert float(counts["total_macs"]) > 0.5  # about 0.7 billion multiply-adds per image
