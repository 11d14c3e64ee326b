"""Datasets over label views, transforms, the multi-head model, training and prediction.

Two model families share one training loop (``train``; ``family`` is the contract): the
paper's classifier (``classifier``, ``model``) and the concept-aware image–GPS alignment
model (the ``align`` package). The stages: ``train.train(engine, TrainParams, *, progress)``,
``predict.predict(engine, PredictParams, *, progress)`` and
``evaluate.evaluate(engine, EvaluateParams, *, progress)``; a trained model is found by
name in ``lookup`` (for ``explain`` too). Importing this package imports no PyTorch;
most of its modules do."""

__all__ = [
    "align", "badimage", "checkpoint", "classes", "classifier", "config", "data", "evaluate",
    "family", "geodesy", "inference", "labels", "lookup", "model", "predict", "registry",
    "shards", "train", "weights"
]
