"""How stable the concept ordering of the end-to-end test is across seeds.

For each seed: the tiny synthetic world's photos, the small CNN of
tests/support/tiny_concept_model.py trained on them, concept influence of the test split
with the test's options (64 px, k = 409 = 10 % of the pixels, 4 noise samples x 8 IG
steps, β 0 and 2), then per β: the median over designed-informative concepts of their
median ci against the same for the uninformative ones, the three highest concepts, and
the Spearman correlation of median ci with designed informativeness (concepts seen in
>= 10 images). Also the default k (1000 at 224 px -> 82 at 64 px) for comparison.

    PYTHONPATH=.:tests .venv/bin/python benchmarks/concepts_seed_stability.py --seeds 0 1 2 3
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from benchmarks.scratch_databases import ScratchDatabases
from geotool.explain.attributions import ExplainParams  # noqa: E402
from geotool.explain.pipeline import ConceptParams, InfluenceParams, compute_concepts  # noqa: E402
from geotool.explain.report import ReportParams, concept_report  # noqa: E402
from tests.support.tiny_concept_model import build_tiny_concept_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dbs = ScratchDatabases(Path(tmp))
        try:
            for seed in args.seeds:
                engine = sa.create_engine(dbs.fresh())
                model = build_tiny_concept_model(engine, Path(tmp) / f"s{seed}", seed=seed,
                                                 epochs=args.epochs)
                print(f"seed {seed}: held-out accuracy state {model.test_accuracy[0]:.2f} "
                      f"country {model.test_accuracy[1]:.2f}")
                for k in (409, None):
                    options = InfluenceParams(
                        explain=ExplainParams(noise_samples=4, ig_steps=8), k=k,
                        betas=(0, 2))
                    compute_concepts(engine, ConceptParams(model=model.name, dataset=model.dataset,
                                                           split="test", influence=options))
                    for beta in (0, 2):
                        rep = concept_report(engine, ReportParams(
                            model.name, beta=beta, min_images=10, design=model.design))
                        rows = rep.overall.rows
                        inf = [r.median_ci for r in rows if model.design.get(r.concept)]
                        uninf = [r.median_ci for r in rows if r.concept in model.design
                                 and not model.design[r.concept]]
                        print(f"  k={k or 'default'} β={beta}: informative "
                              f"{np.median(inf):.2f} vs uninformative {np.median(uninf):.2f}; "
                              f"top 3 {[r.concept for r in rows[:3]]}; "
                              f"Spearman {rep.spearman:.3f}")
                engine.dispose()
        finally:
            dbs.close()


if __name__ == "__main__":
    main()
