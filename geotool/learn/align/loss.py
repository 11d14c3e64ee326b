"""The contrastive loss: image → GPS InfoNCE against the batch plus a queue (GeoCLIP).

For images i = 1..B with L2-normalised embeddings u_i, their own GPS embeddings g_i, and
Q queued GPS embeddings g'_1..g'_Q (recent batches' coordinates)::

    ℓ_i = −log  exp(s·u_i·g_i) / ( Σ_j exp(s·u_i·g_j) + Σ_q exp(s·u_i·g'_q) )

with s = exp(logit_scale) (learnable, initialised to 1/0.07 and capped at 100 as CLIP
does). Loss = mean over i. Only the image → GPS direction, as GeoCLIP.

The queue holds recent GPS **coordinates** (GeoCLIP's choice, ``queue_store =
"coordinates"``): they are re-encoded with the current GPS encoder each step, so the
negatives are fresh and carry gradients. ``queue_store = "embeddings"`` keeps detached
embeddings instead (MoCo-style, much cheaper on a CPU; negatives go slightly stale).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

MAX_LOGIT_SCALE = math.log(100.0)


def info_nce(image: torch.Tensor, gps: torch.Tensor, queue: torch.Tensor | None,
             logit_scale: torch.Tensor) -> torch.Tensor:
    """InfoNCE of normalised image [B, D] vs GPS [B, D] (+ queue [Q, D]) embeddings."""
    keys = gps if queue is None or len(queue) == 0 else torch.cat([gps, queue], dim=0)
    scale = logit_scale.clamp(max=MAX_LOGIT_SCALE).exp()
    logits = scale * image.float() @ keys.float().T
    return F.cross_entropy(logits, torch.arange(len(image), device=image.device))


class GpsQueue:
    """A FIFO ring of the last ``size`` items (coordinates [·, 2] or embeddings [·, D]).

    Filled oldest-first; ``items()`` returns the filled part (empty at the start: GeoCLIP
    starts with random vectors, we start with no negatives beyond the batch). Its state
    (buffer, pointer, fill) travels in the training checkpoint for an exact resume.
    """

    def __init__(self, size: int, width: int) -> None:
        self.size = size
        self.buffer = torch.zeros(size, width)
        self.ptr = 0
        self.filled = 0

    def items(self) -> torch.Tensor:
        return self.buffer[:self.filled]

    def push(self, rows: torch.Tensor) -> None:
        if self.size == 0:
            return
        rows = rows.detach().to(self.buffer.device, self.buffer.dtype)
        if len(rows) >= self.size:
            self.buffer.copy_(rows[-self.size:])
            self.ptr, self.filled = 0, self.size
            return
        end = self.ptr + len(rows)
        if end <= self.size:
            self.buffer[self.ptr:end] = rows
        else:
            first = self.size - self.ptr
            self.buffer[self.ptr:] = rows[:first]
            self.buffer[:end - self.size] = rows[first:]
        self.ptr = end % self.size
        self.filled = min(self.size, self.filled + len(rows))

    def to(self, device: torch.device) -> GpsQueue:
        self.buffer = self.buffer.to(device)
        return self

    def state_dict(self) -> dict[str, object]:
        return {"buffer": self.buffer.cpu().clone(), "ptr": self.ptr, "filled": self.filled}

    def load_state_dict(self, state: dict[str, object]) -> None:
        buffer = state["buffer"]
        assert isinstance(buffer, torch.Tensor)
        self.buffer = buffer.to(self.buffer.device, self.buffer.dtype).clone()
        self.ptr, self.filled = int(state["ptr"]), int(state["filled"])  # type: ignore[call-overload]
