import pytest
import torch

from transinv.datasets import load_dataset, select_classes
from transinv.models import create_model
from transinv.presets import SMALL
from transinv.stimuli import ItemBank, draw_batch
from transinv.stopping import StoppingRule
from transinv.train import Speed, make_optimizer, train


def train_a_little(seed, iters=6, corrupt=False, speed=Speed()):
    mnist = select_classes(load_dataset("mnist"), [0, 1, 2])
    bank = ItemBank.build(mnist.train_images[:300], mnist.train_labels[:300], SMALL.item_size)
    torch.manual_seed(seed)
    model = create_model("vgg16_small", num_classes=3, canvas_size=64)
    if corrupt:
        with torch.no_grad():
            model.net.classifier[0].weight.fill_(float("nan"))
    log = []
    reason = train(model, bank, "translated", SMALL, generator=torch.Generator().manual_seed(seed),
                   optimizer=make_optimizer(model, SMALL.lr), rule=StoppingRule(1, 100, iters), log=log, progress=False,
                   speed=speed)
    return reason, log


@pytest.mark.slow
def test_same_seed_same_numbers():
    assert train_a_little(0) == train_a_little(0)
    assert train_a_little(0)[1] != train_a_little(1)[1]
    assert train_a_little(0)[0] == "max_iters" and len(train_a_little(0)[1]) == 6


def test_nan_loss_stops_with_a_clear_error():
    with pytest.raises(FloatingPointError, match="loss became nan at iteration 0: lower the learning rate"):
        train_a_little(0, corrupt=True)


def test_batches_draw_classes_uniformly():
    mnist = load_dataset("mnist")
    bank = ItemBank.build(mnist.train_images[:2000], mnist.train_labels[:2000], SMALL.item_size)
    canvases, labels = draw_batch(bank, "one_location", SMALL, 5000, torch.Generator().manual_seed(0))
    assert canvases.shape == (5000, 3, 64, 64)
    counts = torch.bincount(labels, minlength=10)
    assert counts.min() > 400 and counts.max() < 600  # 500 expected


def test_reading_back_every_few_steps_changes_no_number():
    assert train_a_little(0, iters=12, speed=Speed(sync_every=5)) == train_a_little(0, iters=12)


def test_bf16_autocast_trains():
    reason, log = train_a_little(0, iters=4, speed=Speed(autocast=True))
    assert reason == "max_iters" and len(log) == 4 and all(0 < loss < 5 for _, loss, _ in log)


def test_speed_for_device():
    assert Speed.for_device(torch.device("cpu")) == Speed(autocast=False, channels_last=True, sync_every=1)
    assert Speed.for_device(torch.device("cuda")) == Speed(autocast=True, channels_last=True, sync_every=25)
    assert Speed.for_device(torch.device("cpu"), "bf16").autocast
    with pytest.raises(ValueError, match="precision must be 'auto', 'float32' or 'bf16', but got 'fp16'"):
        Speed.for_device(torch.device("cpu"), "fp16")


def test_pretrained_batchnorm_statistics_stay_frozen():
    """Fine-tuning EfficientNet in batches of 32 must not drift its ImageNet batch-norm statistics."""
    mnist = select_classes(load_dataset("mnist"), [0, 1, 2])
    bank = ItemBank.build(mnist.train_images[:300], mnist.train_labels[:300], SMALL.item_size)
    for pretrained in (True, False):
        model = create_model("efficientnet_lite0", num_classes=3, canvas_size=64, pretrained=pretrained)
        before = model.net.bn1.running_mean.clone()
        train(model, bank, "one_location", SMALL, generator=torch.Generator().manual_seed(0),
              optimizer=make_optimizer(model, SMALL.lr), rule=StoppingRule(1, 100, 2), log=[], progress=False)
        assert torch.equal(model.net.bn1.running_mean, before) == pretrained
        assert model.net.bn1.weight.grad is not None  # the layers themselves still learn


def test_checkpoints_are_saved_at_most_every_checkpoint_seconds():
    mnist = select_classes(load_dataset("mnist"), [0, 1, 2])
    bank = ItemBank.build(mnist.train_images[:300], mnist.train_labels[:300], SMALL.item_size)
    saves = []
    for seconds in (0, 3600):
        count = []
        model = create_model("vgg16_small", num_classes=3, canvas_size=64)
        train(model, bank, "translated", SMALL, generator=torch.Generator().manual_seed(0),
              optimizer=make_optimizer(model, SMALL.lr), rule=StoppingRule(1, 100, 4), log=[], progress=False,
              checkpoint=lambda: count.append(1), checkpoint_seconds=seconds)
        saves.append(len(count))
    assert saves == [3, 0]  # every step but the last (the final state is saved by run()), then none within the hour
