"""Common random numbers (alexnet_core.streams): seed k of two variants shares every draw it can."""
import pytest
import torch

from alexnet_core.augment import Augmenter, ColourStats
from alexnet_core.book.engine.plan import get_experiment
from alexnet_core.book.engine.records import config_hash, recorded_hash
from alexnet_core.config import TrainConfig
from alexnet_core.data import synthetic_image_set
from alexnet_core.inputs import augment_config, build_model
from alexnet_core.model import PaperDropout
from alexnet_core.streams import layer_generator, layer_seed


@pytest.fixture(scope="module")
def batch():
    return synthetic_image_set(n=12, side=40, seed=3).images


@pytest.fixture(scope="module")
def stats(batch):
    return ColourStats.from_images(batch)


def _augment(stats, batch, **switches):
    """One training batch and the generator's state after it, under ``switches``."""
    gen = torch.Generator().manual_seed(5)
    cfg = augment_config(TrainConfig(model="cifarnet", crop=32, **switches))
    out = Augmenter(cfg, stats, batched=True).train(batch, gen)
    return out, gen.get_state()


def test_every_variant_draws_the_same_numbers_so_later_batches_stay_paired(stats, batch):
    _, reference = _augment(stats, batch)
    for switches in (dict(pca_colour=False), dict(random_crop=False, flip=False), dict(flip=False)):
        _, state = _augment(stats, batch, **switches)
        assert torch.equal(state, reference), switches


def test_the_reference_and_no_pca_see_the_same_crops_and_flips(stats, batch):
    with_pca, _ = _augment(stats, batch)
    without, _ = _augment(stats, batch, pca_colour=False)
    shift = with_pca - without  # the same crop and flip: only a colour constant per image differs
    assert shift.abs().amax() > 0.01
    flat = shift.flatten(2)
    assert torch.allclose(flat, flat[:, :, :1].expand_as(flat), atol=1e-4)


def test_sequential_streams_draw_only_what_a_variant_uses(stats, batch):
    _, reference = _augment(stats, batch, random_streams="sequential")
    _, no_pca = _augment(stats, batch, random_streams="sequential", pca_colour=False)
    assert not torch.equal(reference, no_pca)  # the old behaviour, kept for the records made under it


def _weights(**settings):
    cfg = TrainConfig(**(dict(model="alexnet", recipe="coded", seed=4) | settings))
    return {k: v for k, v in build_model(cfg, 10).state_dict().items() if k.endswith("weight")}


@pytest.fixture(scope="module")
def reference():
    return _weights()


def test_the_reference_and_no_lrn_start_identically_everywhere(reference):
    no_lrn = _weights(lrn=False)
    assert reference.keys() == no_lrn.keys()
    assert all(torch.equal(reference[k], no_lrn[k]) for k in reference)


def test_the_reference_and_no_conv3_start_every_same_shaped_layer_alike(reference):
    no_conv3 = _weights(remove_conv=3)
    assert "conv3.weight" not in no_conv3 and no_conv3["conv4.weight"].shape != reference["conv4.weight"].shape
    for layer in ("conv1", "conv2", "conv5", "fc6", "fc7", "fc8"):
        assert torch.equal(no_conv3[f"{layer}.weight"], reference[f"{layer}.weight"]), layer


def test_one_stream_in_module_order_starts_two_shapes_of_net_apart_everywhere(reference):
    # the layers' default draws at construction shift with a removed layer, then every paper draw
    old, old_no_conv3 = _weights(random_streams="sequential"), _weights(random_streams="sequential", remove_conv=3)
    for layer in ("conv1", "fc6"):
        assert not torch.equal(old[f"{layer}.weight"], old_no_conv3[f"{layer}.weight"])  # what shared streams fix


def test_a_layer_seed_depends_on_the_seed_and_the_layer_alone(reference):
    assert layer_seed(4, "fc6") == layer_seed(4, "fc6") != layer_seed(5, "fc6") != layer_seed(4, "fc7")
    assert layer_generator(None, "fc6") is None
    assert not torch.equal(reference["fc6.weight"], _weights(seed=5)["fc6.weight"])
    assert reference["conv3.weight"].std().item() == pytest.approx(0.03, rel=0.05)  # the coded recipe's std kept


def test_dropout_masks_come_from_the_global_stream_whatever_the_input():
    drop = PaperDropout(0.5).train()
    torch.manual_seed(11)
    first = drop(torch.ones(4, 4096)) == 0
    torch.manual_seed(11)
    second = drop(torch.full((4, 4096), 3.0)) == 0
    assert torch.equal(first, second)


def test_cifar_variants_of_a_seed_already_share_their_start_under_sequential_streams():
    runs = {spec.variant: spec for spec in get_experiment("lrn_cifar").runs("cpu") if spec.seed == 1}
    assert all(spec.config.random_streams == "sequential" for spec in runs.values())
    with_lrn = build_model(runs["lrn"].config, 10).state_dict()
    without = build_model(runs["no-lrn"].config, 10).state_dict()
    assert with_lrn.keys() == without.keys() and all(torch.equal(with_lrn[k], without[k]) for k in with_lrn)


def test_records_made_before_shared_streams_are_read_as_sequential():
    old = {k: v for k, v in TrainConfig(model="cifarnet").to_dict().items() if k != "random_streams"}
    assert recorded_hash({"config": old}) == config_hash(TrainConfig(model="cifarnet", random_streams="sequential").to_dict())
    assert recorded_hash({"config": old}) != config_hash(TrainConfig(model="cifarnet").to_dict())


def test_the_books_alexnet_runs_share_their_streams():
    assert all(spec.config.random_streams == "shared" for spec in get_experiment("depth").runs("cpu"))


def test_a_run_of_each_variant_sees_the_same_batches_crops_and_dropout_stream():
    from alexnet_core.distributed import DistInfo
    from alexnet_core.epoch import epoch_batches
    from alexnet_core.train import TrainingRun

    train_set = synthetic_image_set(n=12, side=232, seed=1)
    data = (train_set, train_set, ColourStats.from_images(train_set.images))
    views = {}
    no_pca = dict(pca_colour=False, colour_rescale_alone=True)  # as the augmentation experiment has it
    for name, settings in dict(reference={}, no_conv3=dict(remove_conv=3), no_pca=no_pca).items():
        cfg = TrainConfig(model="alexnet", recipe="coded", seed=2, **settings)
        run = TrainingRun(cfg, data, torch.device("cpu"), "fp32", DistInfo(), None)
        images, labels = next(epoch_batches(run.train_set, 1, run.order_gen, 4, 1, DistInfo(), cfg, torch.device("cpu")))
        views[name] = (labels, run.augmenter.train(images, run.aug_gen), torch.get_rng_state())
    ref_labels, ref_view, ref_rng = views["reference"]
    for name, (labels, view, rng) in views.items():
        assert torch.equal(labels, ref_labels) and torch.equal(rng, ref_rng), name  # data order, dropout's stream
    assert torch.equal(views["no_conv3"][1], ref_view)  # the same crops, flips and colour
    shift = (ref_view - views["no_pca"][1]).flatten(2)  # the same crops and flips, colour apart
    assert torch.allclose(shift, shift[:, :, :1].expand_as(shift), atol=1e-3)
