"""Attributions, segmenters and concept influence."""
