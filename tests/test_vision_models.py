"""tinygrad_cnn.vision.models against torch: each model file is built a second time with torch
(tests/torch_twin.py: the same source, only the framework imports swapped), the torch state
dict is loaded into ours (same keys, same shapes, nothing missing or extra), and the eval outputs
agree in float64. Parameter counts match the numbers torchvision publishes for its weights."""
import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.vision import models

from torch_twin import twin_module

RNG = np.random.default_rng(12)

# torchvision's published num_params (the model cards of its IMAGENET1K weights)
PUBLISHED_PARAMS = {
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "mobilenet_v2": 3_504_872, "densenet121": 7_978_856, "squeezenet1_0": 1_248_424,
    "squeezenet1_1": 1_235_496, "googlenet": 6_624_904, "alexnet": 61_100_840,
    "vgg11": 132_863_336, "vgg11_bn": 132_868_840, "vgg16": 138_357_544,
}
BIG = {"alexnet", "vgg11", "vgg11_bn", "vgg16"}          # > 60 M parameters: the slow set


def _slow_if(condition):
    return [pytest.mark.slow] if condition else []


def twin(module: str, builder: str, **kwargs):
    """The torch build of tinygrad_cnn.vision.models.<module>.<builder>(**kwargs)."""
    return getattr(twin_module(f"tinygrad_cnn.vision.models.{module}"), builder)(**kwargs)


def randomize_norms(torch, model) -> None:
    """Non-trivial BatchNorm statistics and affine parameters, so that eval outputs depend on
    every buffer being loaded into the right place."""
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)


def load_twin(torch, theirs, ours):
    """Load the torch model's state dict into ours after checking keys and shapes are equal."""
    sd = theirs.state_dict()
    mine = ours.state_dict()
    assert list(mine) == list(sd)                                   # same keys, same order
    assert {k: tuple(v.shape) for k, v in mine.items()} == {k: tuple(v.shape) for k, v in sd.items()}
    result = ours.load_state_dict({k: v.numpy() for k, v in sd.items()})
    assert not result.missing_keys and not result.unexpected_keys
    return ours


def assert_same_outputs(torch, ours, theirs, shape):
    x = RNG.standard_normal(shape)
    ours.eval(), theirs.eval()
    with tc.no_grad(), torch.no_grad():
        a = ours(tc.tensor(x)).numpy()
        b = theirs(torch.tensor(x)).numpy()
    assert a.shape == b.shape
    scale = np.abs(b).max()
    assert scale > 0
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11 * scale)


# (file, builder, kwargs, input shape): the real architectures at a small input
CASES = [
    ("resnet", "resnet18", {}, (2, 3, 32, 32)),
    ("resnet", "resnet50", {"num_classes": 10}, (1, 3, 32, 32)),
    ("resnet", "resnet34", {"num_classes": 10}, (1, 3, 32, 32)),
    ("mobilenetv2", "mobilenet_v2", {}, (2, 3, 32, 32)),
    ("densenet", "densenet121", {"num_classes": 10}, (1, 3, 32, 32)),
    ("googlenet", "googlenet", {"num_classes": 10}, (1, 3, 32, 32)),
    ("squeezenet", "squeezenet1_0", {}, (1, 3, 64, 64)),
    ("squeezenet", "squeezenet1_1", {"num_classes": 10}, (1, 3, 64, 64)),
    ("alexnet", "alexnet", {"num_classes": 10}, (1, 3, 64, 64)),
    ("vgg", "vgg11", {"num_classes": 10}, (1, 3, 32, 32)),
    ("vgg", "vgg11_bn", {"num_classes": 10}, (1, 3, 32, 32)),
    ("vgg", "vgg16", {"num_classes": 10}, (1, 3, 32, 32)),
]


@pytest.mark.parametrize("module,builder,kwargs,shape", [
    pytest.param(*c, id=c[1], marks=_slow_if(c[1] in BIG or c[1] in ("resnet34", "resnet50"))) for c in CASES])
def test_torch_state_dict_loads_and_outputs_agree(torch, module, builder, kwargs, shape):
    torch.manual_seed(0)
    theirs = twin(module, builder, **kwargs).double()
    randomize_norms(torch, theirs)
    ours = load_twin(torch, theirs, getattr(models, builder)(**kwargs).double())
    assert repr(ours) == repr(theirs)
    assert_same_outputs(torch, ours, theirs, shape)


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=_slow_if(n in BIG)) for n in PUBLISHED_PARAMS])
def test_parameter_count_is_torchvisions(name):
    kwargs = {"aux_logits": False} if name == "googlenet" else {}   # published without aux heads
    model = models.get_model(name, **kwargs)
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED_PARAMS[name]


REDUCED = [   # the same classes at reduced size: training-mode forward and every gradient
    ("resnet", "ResNet", lambda m: m.ResNet(m.BasicBlock, [1, 1, 1, 1], num_classes=5)),
    ("resnet", "ResNet-bottleneck", lambda m: m.ResNet(m.Bottleneck, [1, 1, 1, 1], num_classes=5,
                                                       groups=2, width_per_group=8)),
    ("densenet", "DenseNet", lambda m: m.DenseNet(growth_rate=8, block_config=(2, 3, 2),
                                                  num_init_features=16, num_classes=5)),
    ("mobilenetv2", "MobileNetV2", lambda m: m.MobileNetV2(num_classes=5, width_mult=0.25,
                                                           dropout=0.0)),
]


@pytest.mark.parametrize("module,label,make", REDUCED, ids=[r[1] for r in REDUCED])
def test_training_step_agrees_with_torch(torch, module, label, make):
    """Training mode (batch statistics, running-stat updates) and backward: loss, every
    parameter gradient and the updated running statistics agree in float64."""
    torch.manual_seed(1)
    theirs = make(twin_module(f"tinygrad_cnn.vision.models.{module}")).double()
    ours = load_twin(torch, theirs, make(__import__(f"tinygrad_cnn.vision.models.{module}",
                                                    fromlist=["_"])).double())
    x = RNG.standard_normal((4, 3, 32, 32))
    y = np.array([0, 1, 2, 3])
    ours.train(), theirs.train()
    loss = tc.nn.functional.cross_entropy(ours(tc.tensor(x)), tc.tensor(y))
    tloss = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
    loss.backward(), tloss.backward()
    assert loss.item() == pytest.approx(tloss.item(), rel=1e-10)
    tgrads = {n: p.grad.numpy() for n, p in theirs.named_parameters()}
    # a bias that a later training-mode BatchNorm cancels has gradient 0 up to rounding: the
    # absolute tolerance is relative to the largest gradient in the model
    scale = max(np.abs(g).max() for g in tgrads.values())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tgrads[name], rtol=1e-7, atol=1e-10 * scale,
                                   err_msg=name)
    tbufs = dict(theirs.named_buffers())
    for name, b in ours.named_buffers():
        np.testing.assert_allclose(b.numpy(), tbufs[name].numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)


@pytest.mark.parametrize("module,builder,kwargs", [
    ("resnet", "resnet18", {}), ("mobilenetv2", "mobilenet_v2", {}),
    ("squeezenet", "squeezenet1_1", {}), ("googlenet", "googlenet", {"aux_logits": False}),
    ("densenet", "densenet121", {}),
])
def test_initialisation_matches_torch_statistics(torch, module, builder, kwargs):
    """Every initialised tensor has torch's distribution for the same source: mean and standard
    deviation (tensors of >= 2000 elements), extreme values for the bounded schemes."""
    torch.manual_seed(0)
    theirs = dict(twin(module, builder, **kwargs).state_dict())
    ours = getattr(models, builder)(**kwargs).state_dict()
    checked = 0
    for name, t in theirs.items():
        a, b = ours[name].numpy().astype(np.float64), t.numpy().astype(np.float64)
        if b.size < 2000 or b.dtype.kind != "f":
            if b.std() == 0:                                  # constants: 0s and 1s exactly
                np.testing.assert_array_equal(a, b, err_msg=name)
            continue
        checked += 1
        sb = b.std()
        assert abs(a.std() - sb) < 0.1 * sb, name
        assert abs(a.mean() - b.mean()) < 0.1 * sb, name
        assert np.abs(a).max() < 1.5 * np.abs(b).max() + 1e-12, name
    assert checked > 5


def test_googlenet_training_outputs_the_aux_logits():
    model = models.googlenet(num_classes=4)
    model.train()
    out = model(tc.randn(2, 3, 32, 32))
    assert isinstance(out, models.GoogLeNetOutputs)
    assert [o.shape for o in out] == [(2, 4), (2, 4), (2, 4)]
    model.eval()
    assert model(tc.randn(1, 3, 32, 32)).shape == (1, 4)


def test_zero_init_residual_zeroes_each_blocks_last_norm():
    model = models.resnet18(zero_init_residual=True)
    for block in model.layer1:
        assert (block.bn2.weight.numpy() == 0).all()
        assert (block.bn1.weight.numpy() == 1).all()


@pytest.mark.parametrize("kwargs,named", [
    ({"weights": "IMAGENET1K_V1"}, "weights='IMAGENET1K_V1'"),
    ({"weights": "DEFAULT"}, "weights='DEFAULT'"),
    ({"pretrained": True}, "pretrained=True"),
])
def test_pretrained_weights_raise_a_clear_error(kwargs, named):
    for builder in (models.resnet18, models.densenet121, models.lenet5):
        with pytest.raises(tc.ArgumentError, match="downloads and ships none") as info:
            builder(**kwargs)
        assert named in str(info.value) and builder.__name__ in str(info.value)


def test_weights_none_and_pretrained_false_build_random_models():
    a = models.squeezenet1_1(weights=None, num_classes=3)
    b = models.squeezenet1_1(pretrained=False, progress=False, num_classes=3)
    assert a(tc.randn(1, 3, 64, 64)).shape == b(tc.randn(1, 3, 64, 64)).shape == (1, 3)


def test_registry_names_every_builder_and_refuses_unknown_names():
    names = models.list_models()
    for expected in ["lenet5", "alexnet", "vgg11", "vgg11_bn", "vgg16", "resnet18", "resnet34",
                     "resnet50", "squeezenet1_0", "squeezenet1_1", "mobilenet_v2", "densenet121",
                     "googlenet"]:
        assert expected in names
    assert models.get_model_builder("resnet18") is models.resnet18
    assert isinstance(models.get_model("lenet5", num_classes=7), models.LeNet5)
    with pytest.raises(ValueError, match="unknown model name 'resnet19'.*resnet18"):
        models.get_model("resnet19")


def test_the_twin_builder_refuses_framework_imports_it_cannot_map(tmp_path, monkeypatch):
    import torch_twin
    pkg = tmp_path / "fakepkg" / "sub"
    pkg.mkdir(parents=True)
    (tmp_path / "fakepkg" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "model.py").write_text("from ..autograd import Function\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError, match="fakepkg.autograd.*no torch counterpart"):
        torch_twin.twin_source("fakepkg.sub.model")


def test_torchvision_weight_enums_import_and_raise_the_clear_error():
    from tinygrad_cnn.vision.models import MobileNet_V2_Weights, ResNet18_Weights
    assert ResNet18_Weights.DEFAULT is ResNet18_Weights.IMAGENET1K_V1
    assert MobileNet_V2_Weights.DEFAULT is MobileNet_V2_Weights.IMAGENET1K_V2
    with pytest.raises(tc.ArgumentError, match="resnet18: weights=.*ResNet18_Weights.IMAGENET1K_V1"):
        models.resnet18(weights=ResNet18_Weights.DEFAULT)
    for name in models.list_models():
        if name != "lenet5":
            assert any(n.lower().replace("_", "") == (name + "weights").replace("_", "")
                       for n in dir(models) if n.endswith("_Weights")), name
