"""The concept bank and the concept losses (Hou et al.'s Concept-Aware Alignment Module).

The bank is K learned unit vectors c_k in the shared embedding space, one per named
concept of the vocabulary. An embedding e (image or GPS side, L2-normalised) becomes a
distribution over concepts::

    p_k(e) = softmax_k( cos(e, c_k) / τ )

The concept loss aligns the image-side and GPS-side distributions of the same photo.
Decision (docs/method.md): the Jensen–Shannon divergence by default —

    JS(p, q) = ½ KL(p ‖ m) + ½ KL(q ‖ m),  m = ½ (p + q)

symmetric, bounded by log 2 and finite when one side puts (near) zero mass where the other
does not, so its gradients stay bounded early in training; the symmetric KL
``KL(p‖q) + KL(q‖p)`` is the option ``concept_divergence = "sym_kl"``.

Optional supervision where concept truth exists: the cross-entropy H(t, p) = −Σ t_k log p_k
of a target distribution t (the vocabulary's truth, normalised) against the image-side
(and GPS-side) distribution.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from geotool.errors import InvalidValueError

DIVERGENCES = ("js", "sym_kl")
_EPS = 1e-12


class ConceptBank(nn.Module):
    """K concept vectors; ``scores(emb)`` → probabilities [N, K]."""

    def __init__(self, names: list[str], dim: int, temperature: float = 0.1,
                 seed: int = 0) -> None:
        super().__init__()
        if len(names) < 2:
            raise InvalidValueError("a concept bank needs at least two concepts")
        if temperature <= 0:
            raise InvalidValueError(f"concept_temperature must be positive, not {temperature}")
        gen = torch.Generator().manual_seed(seed + 7919)
        self.names = list(names)
        self.temperature = float(temperature)
        self.vectors = nn.Parameter(F.normalize(torch.randn(len(names), dim, generator=gen), dim=1))

    def logits(self, emb: torch.Tensor) -> torch.Tensor:
        return F.normalize(emb, dim=-1) @ F.normalize(self.vectors, dim=-1).T / self.temperature

    def scores(self, emb: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(emb), dim=-1)


def _kl(p: torch.Tensor, log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    return (p * (log_p - log_q)).sum(-1)


def js_divergence(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """JS(p, q) per row from log-probabilities [N, K] → [N]."""
    p, q = log_p.exp(), log_q.exp()
    log_m = torch.log((0.5 * (p + q)).clamp_min(_EPS))
    return 0.5 * _kl(p, log_p, log_m) + 0.5 * _kl(q, log_q, log_m)


def sym_kl_divergence(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """KL(p‖q) + KL(q‖p) per row → [N]."""
    p, q = log_p.exp(), log_q.exp()
    return _kl(p, log_p, log_q) + _kl(q, log_q, log_p)


def concept_divergence(image_logits: torch.Tensor, gps_logits: torch.Tensor,
                       kind: str = "js") -> torch.Tensor:
    """Mean over the batch of the divergence between the two sides' concept distributions
    (inputs: the bank's logits, i.e. cosine / τ, [N, K] each)."""
    log_p = torch.log_softmax(image_logits.float(), dim=-1)
    log_q = torch.log_softmax(gps_logits.float(), dim=-1)
    if kind == "js":
        return js_divergence(log_p, log_q).mean()
    if kind == "sym_kl":
        return sym_kl_divergence(log_p, log_q).mean()
    raise InvalidValueError(f"concept_divergence must be one of {', '.join(DIVERGENCES)}, "
                            f"not {kind!r}")


def concept_supervision(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy H(t, p) over the rows whose target has mass (others ignored)."""
    mass = target.sum(-1)
    keep = mass > 0
    if not bool(keep.any()):
        return logits.sum() * 0.0
    t = target[keep] / mass[keep, None]
    return -(t * torch.log_softmax(logits[keep].float(), dim=-1)).sum(-1).mean()
