"""Explanation maps: captum's Integrated Gradients inside a SmoothGrad-squared NoiseTunnel.

The method (docs/method.md, "Concept influence") explains the finest head's logit of a
target class with Integrated Gradients (IG) averaged over noisy copies of the input,
squared (SmoothGrad²), then reduces the colour channels to one map by the maximum of the
absolute attribution.

Batching: :func:`explain_batch` hands a whole batch of images to one NoiseTunnel call.
NoiseTunnel repeats each image ``noise_samples`` times and IG multiplies that by
``ig_steps`` scaled copies; ``internal_batch_size`` says how many of those
``B · noise_samples · ig_steps`` inputs go through the network in one forward/backward
pass, so the network sees large batches instead of one image's copies at a time.
On CUDA the passes run under autocast (AMP) when ``amp`` is on.

Noise is drawn by captum from torch's global generator, seeded with ``seed`` before each
batch (inside a ``fork_rng``, so the caller's random state is untouched). Attributions are
therefore reproducible for the same batches; captum draws one normal tensor for the
whole batch, which equals the per-image draws when each image's noise block has a
multiple of 16 values (CPU generator; the equivalence test relies on it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from geotool.errors import InvalidValueError
from geotool.explain.influence import reduce_channels
from geotool.learn.view import IMAGENET_MEAN, IMAGENET_STD

Target = Literal["predicted", "true", "given"]


@dataclass(frozen=True)
class ExplainParams:
    """Everything that changes an explanation map (recorded once per run)."""

    noise_samples: int = 8  # SmoothGrad samples (paper: not stated; captum's default 5)
    ig_steps: int = 16  # IG interpolation steps
    noise_fraction: float = 0.15  # σ as a fraction of the input range
    baseline: str = "black"  # black | zero (all-zero tensor after normalisation)
    reduction: str = "absmax"  # absmax (method) | max (reference helper, signed)
    target: Target = "predicted"
    level: int = 0  # which head is explained (0 = finest)
    internal_batch_size: int = 512  # inputs per forward/backward pass
    seed: int = 0
    ig_method: str = "gausslegendre"  # captum's default integral approximation

    def validate(self) -> None:
        """Refuse values the explanation cannot honour, naming the option."""
        if self.noise_samples < 1 or self.ig_steps < 2 or self.noise_fraction < 0:
            raise InvalidValueError("--noise-samples must be >= 1, --ig-steps >= 2, "
                                    "--noise >= 0")
        if self.reduction not in ("absmax", "max"):
            raise InvalidValueError(f"--reduction {self.reduction!r}: use absmax or max")
        if self.baseline not in ("black", "zero"):
            raise InvalidValueError(f"baseline {self.baseline!r}: use black or zero")
        if self.target not in ("predicted", "true", "given"):
            raise InvalidValueError(f"--target {self.target!r}: use predicted or true")
        if self.level < 0:
            raise InvalidValueError(f"level {self.level}: give 0 (the finest) or more")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Normalisation:
    """How pixels in [0, 1] become the model's input (per-channel mean and std)."""

    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @property
    def input_range(self) -> float:
        """Width of the normalised value range, averaged over channels (1/std)."""
        return float(sum(1.0 / s for s in self.std) / len(self.std))

    def apply(self, pixels: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean, dtype=pixels.dtype, device=pixels.device)
        std = torch.tensor(self.std, dtype=pixels.dtype, device=pixels.device)
        return (pixels - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)


@dataclass
class Explanations:
    """A batch's explanation maps and the classes they explain."""

    maps: torch.Tensor  # float32 [B, H, W] (after channel reduction)
    targets: torch.Tensor  # int64 [B], the explained class
    predicted: torch.Tensor  # int64 [B], argmax of the explained head
    attributions: torch.Tensor | None = field(default=None, repr=False)  # [B, C, H, W]


class _Head(nn.Module):
    """The classifier seen through one level's logits (captum needs one output tensor)."""

    def __init__(self, model: nn.Module, level: int) -> None:
        super().__init__()
        self.model = model
        self.level = level

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        logits = out[self.level] if isinstance(out, list | tuple) else out
        return logits.float()


def baseline_for(inputs: torch.Tensor, options: ExplainParams,
                 norm: Normalisation) -> torch.Tensor:
    """The IG baseline: black pixels through the normalisation, or an all-zero input."""
    if options.baseline == "black":
        return norm.apply(torch.zeros_like(inputs[:1])).expand_as(inputs).contiguous()
    if options.baseline == "zero":
        return torch.zeros_like(inputs)
    raise InvalidValueError(f"unknown baseline {options.baseline!r}: use 'black' or 'zero'")


def explain_batch(model: nn.Module, inputs: torch.Tensor, options: ExplainParams,
                  norm: Normalisation, targets: torch.Tensor | None = None,
                  keep_attributions: bool = False, amp: bool = True,
                  channels_last: bool = True) -> Explanations:
    """Explain a batch of normalised inputs ``[B, 3, H, W]`` in one NoiseTunnel call.

    ``targets`` is required for ``target='true'`` / ``'given'``; with ``'predicted'`` the
    explained class is the argmax of the model's own forward pass on ``inputs``.
    ``channels_last`` puts the model (in place) and the inputs in channels-last memory
    format, which the CPU and GPU convolution kernels run faster (1.4x on the benchmark's
    CPU); results agree with the default format to float rounding.
    """
    if channels_last:
        model.to(memory_format=torch.channels_last)
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    from captum.attr import IntegratedGradients, NoiseTunnel

    head = _Head(model, options.level).eval()
    device = inputs.device
    from geotool.learn.inference import AMP_DTYPES, amp_mode

    mode = amp_mode(device, amp)  # bf16 where the GPU has it: fp16 overflows to inf/NaN
    use_amp, dtype = mode != "off", AMP_DTYPES.get(mode, torch.float16)
    with torch.no_grad(), torch.autocast(device.type, dtype=dtype, enabled=use_amp):
        predicted = head(inputs).argmax(dim=1)
    if options.target == "predicted":
        chosen = predicted
    else:
        if targets is None:
            raise InvalidValueError(f"target {options.target!r} needs explicit target classes; "
                                    "pass them as targets=")
        chosen = targets.to(device=device, dtype=torch.long)
    tunnel = NoiseTunnel(IntegratedGradients(head))
    stdev = options.noise_fraction * norm.input_range
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(options.seed)
        with torch.autocast(device.type, dtype=dtype, enabled=use_amp):
            attr = tunnel.attribute(
                inputs, nt_type="smoothgrad_sq", nt_samples=options.noise_samples,
                stdevs=stdev, baselines=baseline_for(inputs, options, norm),
                target=chosen, n_steps=options.ig_steps, method=options.ig_method,
                internal_batch_size=options.internal_batch_size,
            )
    attr = attr.float().contiguous()
    maps = reduce_channels(attr, options.reduction)
    return Explanations(maps.detach(), chosen.detach(), predicted.detach(),
                        attr.detach() if keep_attributions else None)


def explain_per_image(model: nn.Module, inputs: torch.Tensor, options: ExplainParams,
                      norm: Normalisation) -> Explanations:
    """The naive way: one NoiseTunnel call per image with captum's default batching.

    Same parameters and noise stream as :func:`explain_batch` (the global generator is
    seeded once and each image draws its block in turn); the baseline of the benchmark
    and of the equivalence test.
    """
    from captum.attr import IntegratedGradients, NoiseTunnel

    head = _Head(model, options.level).eval()
    tunnel = NoiseTunnel(IntegratedGradients(head))
    stdev = options.noise_fraction * norm.input_range
    maps, targets, attrs = [], [], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(options.seed)
        for i in range(inputs.shape[0]):
            x = inputs[i:i + 1]
            with torch.no_grad():
                target = int(head(x).argmax(dim=1))
            a = tunnel.attribute(x, nt_type="smoothgrad_sq", nt_samples=options.noise_samples,
                                 stdevs=stdev, baselines=baseline_for(x, options, norm),
                                 target=target, n_steps=options.ig_steps,
                                 method=options.ig_method)
            attrs.append(a.detach())
            maps.append(reduce_channels(a.detach(), options.reduction))
            targets.append(target)
    t = torch.tensor(targets)
    return Explanations(torch.cat(maps), t, t, torch.cat(attrs))
