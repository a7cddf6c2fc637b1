"""Models: shapes, causality, losses, and the O(1) recurrent update equal to the full forward."""

import math

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from ssmkit_recsys.models import MODELS, build_model
from ssmkit_recsys.serving import Recommender, update_latency
from ssmkit_recsys.task import NextItemRecommender
from ssmkit_recsys.vocab import Vocabulary

from ssmkit import registry
from ssmkit.errors import ConfigError

N_ITEMS, L = 30, 12


@pytest.mark.parametrize("name", ["mamba4rec", "sasrec", "gru4rec"])
def test_shapes_and_causality(name):
    torch.manual_seed(0)
    extra = {"positions": "absolute"} if name == "sasrec" else {}  # recency positions move with the padding
    model = build_model(name, N_ITEMS, L, d_model=16, **extra).eval()
    x = torch.randint(1, N_ITEMS + 1, (3, L))
    h = model(x)
    assert h.shape == (3, L, 16) and model.scores(h).shape == (3, L, N_ITEMS + 1)
    y = x.clone()
    y[:, 7:] = torch.randint(1, N_ITEMS + 1, (3, L - 7))
    torch.testing.assert_close(model(y)[:, :7], h[:, :7])  # the future never leaks into the past
    pad = x.clone()
    pad[:, 9:] = 0
    torch.testing.assert_close(model.last_hidden(pad), h[:, 8])  # right padding: the last real position


@pytest.mark.parametrize("norm_first, embedding_norm", [(True, False), (False, True)])
def test_sasrec_recency_positions_equal_left_padding(norm_first, embedding_norm):
    """Right-padded input with recency positions == the releases' layout: the history padded on the left,
    positions 0..max_len-1, padding masked out of the attention keys."""
    torch.manual_seed(0)
    model = build_model("sasrec", N_ITEMS, L, d_model=16, norm_first=norm_first,
                        embedding_norm=embedding_norm).eval()
    lengths = [L, 5, 1, 9]
    x = torch.zeros(len(lengths), L, dtype=torch.long)
    left = torch.zeros_like(x)
    for i, n in enumerate(lengths):
        items = torch.randint(1, N_ITEMS + 1, (n,))
        x[i, :n], left[i, L - n:] = items, items
    h = model.embed_norm(model.item_emb(left) + model.pos_emb(torch.arange(L))[None])
    heads = model.encoder.layers[0].self_attn.num_heads
    blocked = torch.triu(torch.ones(L, L, dtype=torch.bool), 1)[None] | (left == 0)[:, None, :]  # (b, L, L)
    blocked[:, torch.arange(L), torch.arange(L)] = False  # padded rows attend to themselves: finite, never read
    mask = torch.zeros(blocked.shape).masked_fill(blocked, float("-inf")).repeat_interleave(heads, 0)
    for layer in model.encoder.layers:
        h = layer(h, src_mask=mask)
    reference = model.norm(h)[:, -1]
    torch.testing.assert_close(model.last_hidden(x), reference, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name, options", [("mamba4rec", {"n_layers": 2}), ("mamba4rec", {"mixer": "mamba2",
                                           "d_state": 16, "mixer_extra": {"headdim": 8}}), ("gru4rec", {})])
def test_step_by_step_equals_full_forward(name, options):
    torch.manual_seed(0)
    model = build_model(name, N_ITEMS, L, d_model=16, **options).eval()
    x = torch.randint(1, N_ITEMS + 1, (2, L))
    with torch.no_grad():
        full = model.scores(model(x))  # (2, L, n_items + 1)
        state = model.allocate_state(2)
        for t in range(L):
            step = model.scores(model.step(x[:, t], state))
            torch.testing.assert_close(step, full[:, t], atol=1e-4, rtol=1e-4)


def test_recommender_update_matches_full_forward():
    torch.manual_seed(0)
    model = build_model("mamba4rec", N_ITEMS, L, d_model=16).eval()
    vocab = Vocabulary([f"item{i}" for i in range(1, N_ITEMS + 1)])
    rec = Recommender(model, vocab)
    history = [3, 7, 7, 1, 25, 30]
    rec.fold("alice", [f"item{i}" for i in history])
    with torch.no_grad():
        full = model.scores(model(torch.tensor([history]))[:, -1])[0]
    torch.testing.assert_close(rec.scores("alice")[1:], full[1:], atol=1e-4, rtol=1e-4)
    top = rec.recommend("alice", k=5)
    assert len(top) == 5 and not {item for item, _ in top} & {f"item{i}" for i in history}
    order = full[1:].clone()
    order[[i - 1 for i in history]] = float("-inf")
    assert [item for item, _ in top] == [f"item{int(i) + 1}" for i in order.topk(5).indices]
    assert len(rec.recommend("alice", k=5, exclude_seen=False)) == 5
    everything = rec.recommend("alice", k=10 * N_ITEMS)  # never the user's own items, never -inf
    assert len(everything) == N_ITEMS - len(set(history)) and all(s > float("-inf") for _, s in everything)
    with pytest.raises(Exception, match="not in the model's vocabulary"):
        rec.update("alice", "nope")
    before = rec.scores("alice").clone()
    with pytest.raises(Exception, match="nothing was folded in"):
        rec.fold("alice", ["item2", "nope"])
    torch.testing.assert_close(rec.scores("alice"), before)  # all or nothing
    with pytest.raises(Exception, match="no interactions yet"):
        rec.recommend("bob")
    with pytest.raises(ConfigError, match="no recurrent step"):
        Recommender(build_model("sasrec", N_ITEMS, L), vocab)
    assert update_latency(model, 20, repeats=3) > 0 and update_latency(build_model("sasrec", N_ITEMS, 32), 20, 3) > 0


@pytest.mark.parametrize("loss", ["ce", "sampled"])
def test_losses_train_a_step(loss):
    torch.manual_seed(0)
    task = NextItemRecommender(model="mamba4rec", options={"d_model": 16}, n_items=N_ITEMS, max_len=L, loss=loss,
                               num_negatives=10)
    x = torch.randint(1, N_ITEMS + 1, (4, L))
    y = torch.randint(1, N_ITEMS + 1, (4, L))
    x[:, 10:] = 0
    y[:, 10:] = 0
    value = task.compute_loss(task(x), {"x": x, "y": y})
    assert value.ndim == 0 and torch.isfinite(value) and value > 0
    value.backward()
    assert task.net.item_emb.weight.grad is not None


def test_full_ce_equals_the_definition():
    torch.manual_seed(0)
    task = NextItemRecommender(model="sasrec", options={"d_model": 8}, n_items=N_ITEMS, max_len=L)
    x = torch.randint(1, N_ITEMS + 1, (2, L))
    y = torch.randint(1, N_ITEMS + 1, (2, L))
    y[0, 5:] = 0
    h = task(x)
    logits = (h @ task.net.item_emb.weight[1:].T)[y > 0]
    expected = torch.nn.functional.cross_entropy(logits, y[y > 0] - 1)
    torch.testing.assert_close(task.compute_loss(h, {"x": x, "y": y}), expected)


def test_popularity_and_bad_options():
    pop = build_model("popularity", 5, L).fit([np.array([1, 2, 2]), np.array([2, 5])])
    s = pop.scores(torch.zeros(2, 1))
    assert s.shape == (2, 6) and s[0].argmax() == 2 and s[0, 3] == 0
    with pytest.raises(ConfigError, match="unknown option"):
        NextItemRecommender(model="sasrec", options={"heads": 2})
    with pytest.raises(ConfigError, match="use one of"):
        NextItemRecommender(model="bert4rec")
    with pytest.raises(ConfigError, match="--model.loss"):
        NextItemRecommender(loss="bpr")
    assert set(MODELS) == {"mamba4rec", "sasrec", "gru4rec", "popularity"}


def test_recommend_excludes_history_unless_asked():
    task = NextItemRecommender(model="popularity", n_items=5, max_len=4)
    task.net.fit([np.array([1, 2, 2, 3, 3, 3, 4, 4, 4, 4])])  # popularity order: 4, 3, 2, 1, 5
    batch = {"x": torch.tensor([[4, 2, 0, 0]]), "seen": torch.tensor([[2, 4]])}
    items, scores = task.recommend(batch, k=3)
    assert items.tolist() == [[3, 1, 5]] and torch.isfinite(scores).all()
    assert task.recommend(batch, k=3, exclude_history=False)[0].tolist() == [[4, 3, 2]]


@pytest.mark.parametrize("name", ["mamba4rec", "sasrec", "gru4rec"])
def test_bce_trains_every_model(name):
    torch.manual_seed(0)
    task = NextItemRecommender(model=name, options={"d_model": 16}, n_items=N_ITEMS, max_len=L, loss="bce")
    x = torch.randint(1, N_ITEMS + 1, (4, L))
    y = torch.roll(x, -1, 1)
    x[:, 9:] = 0
    y[:, 8:] = 0
    value = task.compute_loss(task(x), {"x": x, "y": y, "index": torch.arange(4)})  # no histories: the window
    assert value.ndim == 0 and torch.isfinite(value) and value > 0
    value.backward()
    assert task.net.item_emb.weight.grad is not None


def _bce_by_hand(h, emb, y, neg):
    """The definition, one position at a time in Python floats (float64)."""
    total, count = 0.0, 0
    for i in range(y.shape[0]):
        for t in range(y.shape[1]):
            if y[i, t] == 0:
                continue
            pos = sum(float(a) * float(b) for a, b in zip(h[i, t], emb[y[i, t]]))
            neg_score = sum(float(a) * float(b) for a, b in zip(h[i, t], emb[neg[i, t]]))
            total += -math.log(1 / (1 + math.exp(-pos))) - math.log(1 - 1 / (1 + math.exp(-neg_score)))
            count += 1
    return total / count


def test_bce_equals_the_definition_with_negatives_outside_the_history():
    torch.manual_seed(0)
    task = NextItemRecommender(model="sasrec", options={"d_model": 8}, n_items=N_ITEMS, max_len=L,
                               loss="bce").double()
    with torch.no_grad():
        task.net.item_emb.weight.mul_(30)  # scores of a few units, so both sigmoid terms matter
    histories = [np.arange(1, 21), np.array([], np.int64), np.array([5, 6, 7, 8, 9, 10, 11, 12])]
    task.set_train_histories(histories)
    x = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [0] * 12, [5, 6, 7, 8, 9, 10, 11, 0, 0, 0, 0, 0]])
    y = torch.tensor([[2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], [0] * 12, [6, 7, 8, 9, 10, 11, 12, 0, 0, 0, 0, 0]])
    y[1, 0], x[1, 0] = 4, 3  # user 1 (empty training history): one position, any item may be its negative
    batch = {"x": x, "y": y, "index": torch.tensor([0, 1, 2])}
    h = task(x)
    torch.manual_seed(1)
    neg = task.sample_negatives(batch)
    torch.manual_seed(1)
    loss = task.compute_loss(h, batch)
    assert loss.dtype == torch.float64
    assert (neg[y == 0] == 0).all() and (neg[y > 0] > 0).all() and neg.max() <= N_ITEMS
    assert not set(neg[0].tolist()) & set(range(1, 21)) and not set(neg[2, :7].tolist()) & set(range(5, 13))
    expected = _bce_by_hand(h.detach(), task.net.item_emb.weight.detach(), y, neg)
    torch.testing.assert_close(loss.item(), expected, rtol=1e-12, atol=1e-12)
    # negatives handed in by the batch are used as given; a PAD negative drops only its own term
    given = neg.clone()
    given[2, 0] = 0
    keep = y > 0
    pos = (h * task.net.item_emb.weight[y]).sum(-1)[keep]
    neg_score = (h * task.net.item_emb.weight[given]).sum(-1)[keep]
    by_terms = (-torch.log(torch.sigmoid(pos)) - torch.log(1 - torch.sigmoid(neg_score)) * (given[keep] > 0)).mean()
    torch.testing.assert_close(task.compute_loss(h, {**batch, "neg": given}), by_terms)


def test_bce_negatives_are_uniform_outside_the_history():
    task = NextItemRecommender(model="sasrec", options={"d_model": 8}, n_items=N_ITEMS, max_len=L, loss="bce")
    task.set_train_histories([np.arange(1, 11), np.arange(1, N_ITEMS + 1)])  # user 1 has had every item
    y = torch.ones(2, 3000, dtype=torch.long)
    torch.manual_seed(0)
    neg = task.sample_negatives({"x": y, "y": y, "index": torch.tensor([0, 1])}, rounds=20)
    counts = torch.bincount(neg[0], minlength=N_ITEMS + 1)
    assert counts[:11].sum() == 0 and counts[11:].min() > 100  # 20 items left, 150 draws each expected
    assert (neg[1] == 0).all()  # nothing to draw from: no negative term


def test_bce_fit_reads_the_training_histories(tmp_path):
    rng = np.random.default_rng(0)
    log = tmp_path / "log.txt"
    log.write_text("".join(f"u{u} " + " ".join(f"i{j}" for j in rng.choice(40, 8, replace=False)) + "\n"
                           for u in range(30)))
    pipe = registry.get("pipelines", "recsys/next-item")
    dm, task = pipe.instantiate(model={"options": {"d_model": 16}, "loss": "bce"},
                                data={"path": str(log), "max_len": 8, "batch_size": 8})
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0)
    trainer.fit(task, datamodule=dm)
    assert task._history_keys is not None and len(task._history_keys) == sum(len(s) for s in dm.split.train)
