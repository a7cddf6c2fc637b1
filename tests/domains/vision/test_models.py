"""Image models: timm registry round trip, scan orders as permutations through the model, forward/backward."""

import pytest
import timm
import torch
from ssmkit_vision.models import MODEL_NAMES, VisionSSM
from ssmkit_vision.scan import PMNIST_SEED, grid_permutation, scan_names

from ssmkit import registry
from ssmkit.errors import ConfigError
from ssmkit.scan_orders import CROSS_SCAN, apply_order, inverse_permutation

GRID_ORDERS = ["row", "column", "snake", "hilbert", "zorder", "row_reverse", "column_reverse", "identity",
               "reverse", "random", "vision/pmnist"]


def tiny(name: str = "ssmkit_vim_mnist", **kwargs) -> VisionSSM:
    return timm.create_model(name, **{"embed_dim": 16, "depth": 1, "d_state": 4, **kwargs})


def test_timm_registry_round_trip():
    from ssmkit_vision.models.point_ssm import MODEL_NAMES as POINT_MODELS

    assert set(timm.list_models("ssmkit_*")) == set(MODEL_NAMES) | set(POINT_MODELS)
    assert {"ssmkit_vim_tiny", "ssmkit_vmamba_tiny", "ssmkit_smnist", "ssmkit_psmnist"} <= set(MODEL_NAMES)
    model = timm.create_model("ssmkit_vim_tiny", depth=2)  # the real width, fewer layers (speed)
    assert isinstance(model, VisionSSM) and model.pretrained_cfg["input_size"] == (3, 224, 224)
    assert model.pretrained_cfg["architecture"] == "ssmkit_vim_tiny" and model.num_classes == 1000
    assert model.embed_dim == 192 and model.grid == (14, 14)
    config = timm.data.resolve_data_config({}, model=timm.create_model("ssmkit_smnist", embed_dim=8, depth=1))
    assert config["input_size"] == (1, 28, 28) and config["mean"] == (0.1307,)
    model = tiny(num_classes=7)
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 7)
    model.reset_classifier(3)
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 3) and model.get_classifier().out_features == 3
    assert model.forward_head(model.forward_features(torch.randn(2, 1, 28, 28)), pre_logits=True).shape == (2, 16)
    with pytest.raises(RuntimeError, match="No pretrained weights"):
        timm.create_model("ssmkit_vim_mnist", pretrained=True)


@pytest.mark.parametrize("grid", [(7, 7), (4, 6), (1, 5)])
@pytest.mark.parametrize("order", GRID_ORDERS)
def test_scan_orders_are_invertible_permutations(order, grid):
    perm, inv = grid_permutation(order, grid)
    L = grid[0] * grid[1]
    assert sorted(perm.tolist()) == list(range(L))
    assert torch.equal(perm[inv], torch.arange(L)) and torch.equal(inv[perm], torch.arange(L))
    x = torch.randn(2, L, 3)
    assert torch.equal(apply_order(apply_order(x, perm), inv), x)


def test_permuted_mnist_order_is_fixed_and_registered():
    order = registry.get("scan_orders", "vision/pmnist")
    a, b = order.permutation(length=784), order.permutation(grid=(28, 28))
    assert torch.equal(a, b) and not torch.equal(a, torch.arange(784)) and order.seed == PMNIST_SEED
    assert torch.equal(inverse_permutation(a)[a], torch.arange(784))
    assert scan_names("cross") == list(CROSS_SCAN) and scan_names("row, hilbert") == ["row", "hilbert"]
    with pytest.raises(ConfigError, match="unknown scan order 'spiral'"):
        grid_permutation("spiral", (4, 4))
    with pytest.raises(ConfigError, match="point coordinates"):
        grid_permutation("hilbert3d", (4, 4))


@pytest.mark.parametrize("order", ["row", "column", "snake", "hilbert", "zorder", "vision/pmnist"])
def test_causal_model_reads_pixels_in_scan_order(order):
    """Output at pixel p of a one-directional model depends exactly on the pixels read before (or at) p."""
    torch.manual_seed(0)
    model = timm.create_model("ssmkit_smnist", img_size=4, embed_dim=8, depth=1, d_state=4, scan=order,
                              num_classes=2).double()
    rank = model.inv_perm  # rank[q] = when pixel q is read
    x = torch.randn(1, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    out = model.forward_features(x)  # (1, 16, 8), row-major
    for p in range(16):
        (grad,) = torch.autograd.grad(out[0, p].sum(), x, retain_graph=True)
        seen = set((grad.flatten().abs() > 1e-12).nonzero().flatten().tolist())
        assert seen == {q for q in range(16) if rank[q] <= rank[p]}, (order, p)


@pytest.mark.parametrize("cls_token", ["middle", "first", "last", "none"])
@pytest.mark.parametrize("scan", ["hilbert", "snake", "cross"])
def test_scan_and_inverse_put_tokens_back(cls_token, scan):
    """With the backbone replaced by the identity, the features are the patch embeddings, row-major."""
    if scan == "cross" and cls_token != "none":
        with pytest.raises(ConfigError, match="cls_token='none'"):
            tiny(scan=scan, cls_token=cls_token)
        return
    model = tiny(scan=scan, cls_token=cls_token, global_pool="avg")
    model.backbone = torch.nn.Identity()
    x = torch.randn(2, 1, 28, 28)
    feats = model.forward_features(x)
    expected = model.patch_embed(x) + model.pos_embed
    assert torch.allclose(feats[:, model.num_prefix_tokens:], expected)
    if cls_token != "none":
        assert torch.allclose(feats[:, 0], model.cls_token[:, 0].expand(2, -1))


@pytest.mark.parametrize("name, kwargs", [
    ("ssmkit_vim_mnist", {}),
    ("ssmkit_vim_mnist", {"scan": "hilbert", "cls_token": "first", "mixer": "mamba2",
                          "mixer_options": {"headdim": 8, "chunk_size": 16}}),
    ("ssmkit_vmamba_mnist", {}),
    ("ssmkit_vmamba_mnist", {"scan": "row,zorder", "merge": "concat", "mixer": "s4d", "expand": 0}),
    ("ssmkit_psmnist", {"img_size": 12, "global_pool": "last"}),
])
def test_forward_backward(name, kwargs):
    torch.manual_seed(0)
    size = kwargs.get("img_size", 28)
    model = tiny(name, **kwargs)
    x = torch.randn(3, 1, size, size)
    logits = model(x)
    assert logits.shape == (3, 10) and torch.isfinite(logits).all()
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2])).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, missing


def test_cross_scan_sees_the_whole_grid():
    torch.manual_seed(0)
    model = tiny("ssmkit_vmamba_mnist", img_size=8, patch_size=2).double()
    mixer = model.backbone.layers[0].mixer
    assert len(mixer.multi.modules_) == 4
    w = [m.in_proj.weight for m in mixer.multi.modules_]
    assert not torch.equal(w[0], w[1])  # one freshly initialised mixer per direction
    x = torch.randn(1, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    out = model.forward_features(x)
    (grad,) = torch.autograd.grad(out[0, 5].sum(), x)
    assert (grad.abs() > 0).all()  # rows and columns, both ways: every pixel reaches every token


def test_pixel_sequence_models_default_to_s4d_and_keep_mamba_reachable():
    """ssmkit_smnist/psmnist: S4D layers by default; mixer="mamba" alone rebuilds the earlier Mamba model
    (expand 2, 16 states), so its checkpoints load with --model.options '{"mixer": "mamba"}'."""
    from ssmkit.layers import S4D, Mamba

    for name in ("ssmkit_smnist", "ssmkit_psmnist"):
        s4d = timm.create_model(name)
        assert all(isinstance(layer.mixer, S4D) for layer in s4d.backbone.layers)
        assert s4d.backbone.layers[0].mixer.modes == 32  # 64 states = 32 complex modes
        mamba = timm.create_model(name, mixer="mamba")
        mixer = mamba.backbone.layers[0].mixer
        assert isinstance(mixer, Mamba) and tuple(mixer.A_log.shape) == (256, 16)
