"""Pretrain a small causal DNA model on FASTA, fine-tune it as a promoter classifier, embed sequences.

    python examples/genomics/train.py --data-dir ../shared/data                      # CNNProm E. coli promoters
    python examples/genomics/train.py --fasta genome.fa --pos pos.fa --neg neg.fa     # your own files

Three steps, each a pipeline of the genomics plug-in driven from Python: ``pretrain`` (next nucleotide,
bits per base, chunked with the state carried), ``classify`` started from the pretrained network
(``init_from``), and the embeddings of the test sequences from the fine-tuned checkpoint.
"""

import argparse
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from ssmkit_genomics.embed import DNAEmbedder

from ssmkit import registry
from ssmkit.cli.report import print_table


def fit(pipeline_name: str, model: dict, data: dict, epochs: int, root: Path):
    """Train one pipeline; returns (data module, model, best checkpoint path, test metrics)."""
    pipeline = registry.get("pipelines", f"genomics/{pipeline_name}")
    dm, task = pipeline.instantiate(model=model, data=data)
    best = pl.callbacks.ModelCheckpoint(dirpath=root / pipeline_name, monitor=pipeline.monitor, mode=pipeline.mode)
    trainer = pl.Trainer(max_epochs=epochs, logger=False, callbacks=[best], enable_model_summary=False,
                         gradient_clip_val=1.0 if pipeline_name != "pretrain" else None,
                         precision="bf16-mixed" if torch.cuda.is_available() else "32-true")
    trainer.fit(task, datamodule=dm)
    metrics = trainer.test(task, datamodule=dm, ckpt_path="best", verbose=False)[0]
    return dm, task, best.best_model_path, metrics


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=None, help="a data directory holding genomics/promoters/")
    p.add_argument("--fasta", default=None, help="sequences to pretrain on (default: the promoter files)")
    p.add_argument("--pos", default=None, help="FASTA of the positive class (with --neg)")
    p.add_argument("--neg", default=None, help="FASTA of the negative class")
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--out", default="runs/example-genomics")
    args = p.parse_args()
    root = Path(args.out)
    pl.seed_everything(0)

    # 1. next-nucleotide pretraining, windows of 256 trained in chunks of 64 with the state carried
    lm_data = {"path": args.fasta} if args.fasta else {"dataset": "genomics/promoters_ecoli",
                                                       "data_dir": args.data_dir}
    _, _, lm_ckpt, lm = fit("pretrain", {"d_model": args.d_model, "n_layers": 2, "chunk": 64},
                            {**lm_data, "context": 256, "batch_size": 32}, args.epochs, root)
    print(f"pretrained: {float(lm['test/bits_per_base']):.3f} bits per base (uniform: 2.000) -> {lm_ckpt}")

    # 2. the classifier starts from the pretrained embedding and backbone
    clf_data = ({"files": {"positive": [args.pos], "negative": [args.neg]}} if args.pos and args.neg
                else {"dataset": "genomics/promoters_ecoli", "data_dir": args.data_dir})
    dm, _, clf_ckpt, m = fit("classify", {"init_from": lm_ckpt}, clf_data, args.epochs, root)
    print_table("fine-tuned classifier (test)", ["metric", "value"],
                [[k, f"{float(v):.4f}"] for k, v in sorted(m.items())])

    # 3. one vector per test sequence from the fine-tuned network (strand-independent)
    embedder = DNAEmbedder(clf_ckpt).eval()
    batch = next(iter(dm.test_dataloader()))
    with torch.no_grad():
        vectors = embedder(batch["x"], batch["mask"]).numpy()
    np.save(root / "test_embeddings.npy", vectors)
    print(f"embeddings of {len(vectors)} test sequences: {vectors.shape} -> {root / 'test_embeddings.npy'}")


if __name__ == "__main__":
    main()
