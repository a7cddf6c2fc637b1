"""The generic Task's optimizers: AdamW (decoupled decay) and Adam (decay as an L2 gradient term)."""

import pytest
import torch
from torch import nn

from ssmkit.errors import ConfigError
from ssmkit.tasks import Task


class _Tiny(Task):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.net = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))


def _one_step(task: Task, w0: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    weight = task.net[0].weight
    with torch.no_grad():
        weight.copy_(w0)
    optimizer = task.configure_optimizers()["optimizer"]
    weight.grad = grad.clone()
    optimizer.step()
    return weight.detach().clone()


@pytest.mark.parametrize("name", ["adamw", "adam"])
def test_first_step_matches_the_update_rule(name):
    lr, wd, betas = 0.1, 0.5, (0.8, 0.9)
    task = _Tiny(lr=lr, weight_decay=wd, warmup=0.0, min_lr_ratio=1.0, optimizer=name, betas=betas)
    g = torch.Generator().manual_seed(0)
    w0, grad = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    w1 = _one_step(task, w0, grad).double()
    w0, grad = w0.double(), grad.double()
    eps = 1e-8
    if name == "adamw":  # w <- w (1 - lr wd) - lr m_hat / (sqrt(v_hat) + eps); first step: m_hat = g, v_hat = g^2
        expected = w0 * (1 - lr * wd) - lr * grad / (grad.abs() + eps)
    else:  # the decay joins the gradient before the moments
        full = grad + wd * w0
        expected = w0 - lr * full / (full.abs() + eps)
    torch.testing.assert_close(w1, expected, rtol=1e-5, atol=1e-6)
    groups = task.configure_optimizers()["optimizer"].param_groups
    assert groups[0]["betas"] == betas and [g["weight_decay"] for g in groups] == [wd, 0.0]  # norms never decay


def test_bad_optimizer_options():
    with pytest.raises(ConfigError, match="optimizer"):
        _Tiny(optimizer="sgd")
    with pytest.raises(ConfigError, match="betas"):
        _Tiny(betas=(0.9, 1.5))


def test_gradient_clipping_under_fsdp_uses_the_sharded_modules_norm():
    """Lightning's FSDP precision refuses norm clipping; the Task hands it to FSDP's own clip_grad_norm_ (the
    norm over every shard) and clips as usual under any other strategy or when no clipping is asked."""
    from types import SimpleNamespace

    from pytorch_lightning.strategies import FSDPStrategy, SingleDeviceStrategy

    fsdp_calls, usual = [], []
    task = _Tiny()
    task.clip_gradients = lambda opt, gradient_clip_val, gradient_clip_algorithm: usual.append(gradient_clip_val)
    task._trainer = SimpleNamespace(strategy=FSDPStrategy(),
                                    model=SimpleNamespace(clip_grad_norm_=lambda v: fsdp_calls.append(v)))
    task.configure_gradient_clipping(None, 1.0, "norm")
    task.configure_gradient_clipping(None, 0.5, None)
    task.configure_gradient_clipping(None, None, None)  # no clipping asked: the usual path (which does nothing)
    task.configure_gradient_clipping(None, 0.1, "value")  # element-wise: the usual path works on shards
    assert fsdp_calls == [1.0, 0.5] and usual == [None, 0.1]

    task._trainer = SimpleNamespace(strategy=SingleDeviceStrategy("cpu"))
    task.configure_gradient_clipping(None, 2.0, "norm")
    assert usual == [None, 0.1, 2.0] and fsdp_calls == [1.0, 0.5]
