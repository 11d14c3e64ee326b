"""Datasets over label views, transforms, the multi-head model, training and prediction."""
