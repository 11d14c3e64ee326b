"""Datasets over label views, transforms, the multi-head model, training and prediction.

The stages: ``train.train(engine, TrainParams, *, progress)``,
``predict.predict(engine, PredictParams, *, progress)`` and
``evaluate.evaluate(engine, EvaluateParams, *, progress)``; a trained model is found by
name in ``lookup`` (for ``explain`` too). Importing this package imports no PyTorch;
most of its modules do."""

__all__ = [
    "badimage", "checkpoint", "classes", "config", "data", "evaluate", "geodesy", "inference",
    "labels", "lookup", "model", "predict", "registry", "shards", "train", "weights"
]
