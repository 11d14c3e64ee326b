"""Does ci rank concepts the way occluding them hurts the model? Seeds of the tiny planet.

For each seed: the small CNN of tests/support/tiny_concept_model.py trained on the tiny
synthetic world, concept influence on the test split with the end-to-end test's options
(64 px, k = 409, 4 noise samples x 8 IG steps, β 0 and 2; and the default k), then
``concepts verify`` with mean fill and with blur: per concept the mean drop of the
explained class's probability when the concept is occluded, beside its median ci, and
Spearman's correlation between the two (concepts seen in >= 10 photos). Figures in
docs/concepts.md ("Does ci measure what the model uses?").

    PYTHONPATH=.:tests .venv/bin/python benchmarks/concepts_verify.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from scratch_databases import ScratchDatabases  # noqa: E402
from support.tiny_concept_model import build_tiny_concept_model  # noqa: E402

from geotool.explain.attributions import ExplainParams  # noqa: E402
from geotool.explain.pipeline import ConceptParams, InfluenceParams, compute_concepts  # noqa: E402
from geotool.explain.verify import VerifyParams, format_verify, verify_concepts  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--split", default="test")
    parser.add_argument("--default-k", action="store_true", help="also the default k")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dbs = ScratchDatabases(Path(tmp))
        try:
            for seed in args.seeds:
                engine = sa.create_engine(dbs.fresh())
                model = build_tiny_concept_model(engine, Path(tmp) / f"s{seed}", seed=seed,
                                                 epochs=args.epochs)
                print(f"seed {seed}: held-out accuracy state {model.test_accuracy[0]:.2f} "
                      f"country {model.test_accuracy[1]:.2f}", flush=True)
                for k in (409, None) if args.default_k else (409,):
                    options = InfluenceParams(
                        explain=ExplainParams(noise_samples=4, ig_steps=8), k=k,
                        betas=(0, 2))
                    run = compute_concepts(engine, ConceptParams(
                        model=model.name, dataset=model.dataset, split=args.split,
                        influence=options))
                    for fill in ("mean", "blur"):
                        summary = verify_concepts(engine, VerifyParams(
                            model.name, run=run.concept_run_id, fill=fill))  # type: ignore[arg-type]
                        print(f"  k={k or 'default'} " + format_verify(summary).replace(
                            "\n", "\n  "), flush=True)
                engine.dispose()
        finally:
            dbs.close()


if __name__ == "__main__":
    main()
