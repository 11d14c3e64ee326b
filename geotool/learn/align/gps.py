"""The GPS encoder, laid out as GeoCLIP's ``LocationEncoder`` so its weights load as they are.

(lat, lon) in degrees → Equal Earth projection (scaled as GeoCLIP does: × 66.50336 / 180)
→ per branch σ: random Fourier features γ(v) = [cos 2π v Bᵀ, sin 2π v Bᵀ] with a fixed
Gaussian matrix B (256 × 2, entries N(0, σ²)) → MLP 512 → hidden → hidden → hidden → dim
(ReLU between) → the branches' outputs summed. GeoCLIP: σ ∈ {2^0, 2^4, 2^8}, hidden 1024,
dim 512; a σ = 2^12 branch is an option for street-level resolution.

Numerics: branches with σ ≤ 2^8 compute in float32 in exactly GeoCLIP's order (so the
pretrained weights give GeoCLIP's embeddings to 1e-5); a finer branch computes its phases
in float64 (at σ = 2^12 a float32 phase would lose ~1e-3 rad, i.e. metres of resolution).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from geotool.errors import GeotoolError, InvalidValueError, MissingInputError

# Equal Earth constants (Šavrič, Patterson, Jenny 2018), as GeoCLIP uses them
A1, A2, A3, A4 = 1.340264, -0.081106, 0.000893, 0.003796
SF = 66.50336
GEOCLIP_SIGMAS = (2.0 ** 0, 2.0 ** 4, 2.0 ** 8)
RFF_SIZE = 256


def check_coordinates(latlon: torch.Tensor) -> None:
    """One-line error for coordinates that are not [N, 2] degrees in range."""
    if latlon.ndim != 2 or latlon.shape[1] != 2:
        raise InvalidValueError(f"coordinates must be an [N, 2] tensor of (lat, lon) degrees, "
                                f"not shape {tuple(latlon.shape)}")
    if latlon.numel() == 0:
        return
    if not bool(torch.isfinite(latlon).all()):
        raise InvalidValueError("coordinates contain NaN or infinity; give finite (lat, lon)")
    lat, lon = latlon[:, 0], latlon[:, 1]
    if float(lat.abs().max()) > 90 or float(lon.abs().max()) > 180:
        bad = int(torch.nonzero((lat.abs() > 90) | (lon.abs() > 180))[0, 0])
        raise InvalidValueError(
            f"coordinate {bad} ({float(lat[bad]):.6g}, {float(lon[bad]):.6g}) is out of range: "
            "latitude must be within ±90 and longitude within ±180 degrees (swapped columns?)")


def equal_earth(latlon: torch.Tensor) -> torch.Tensor:
    """GeoCLIP's scaled Equal Earth projection of [N, 2] (lat, lon) degrees → [N, 2]."""
    lat = torch.deg2rad(latlon[:, 0])
    lon = torch.deg2rad(latlon[:, 1])
    three = torch.tensor(3.0, dtype=latlon.dtype, device=latlon.device)
    theta = torch.asin((torch.sqrt(three) / 2) * torch.sin(lat))
    denominator = 3 * (9 * A4 * theta ** 8 + 7 * A3 * theta ** 6 + 3 * A2 * theta ** 2 + A1)
    x = (2 * torch.sqrt(three) * lon * torch.cos(theta)) / denominator
    y = A4 * theta ** 9 + A3 * theta ** 7 + A2 * theta ** 3 + A1 * theta
    return (torch.stack((x, y), dim=1) * SF) / 180


class RffBranch(nn.Module):
    """One σ: fixed Fourier matrix ``b`` [256, 2] → MLP → ``dim``."""

    def __init__(self, sigma: float, hidden: int, dim: int, depth: int = 3,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.sigma = float(sigma)
        self.register_buffer("b", torch.randn((RFF_SIZE, 2), generator=generator) * sigma)
        layers: list[nn.Module] = []
        width = 2 * RFF_SIZE
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.mlp = nn.Sequential(*layers)
        self.head = nn.Linear(width, dim)

    def forward(self, projected: torch.Tensor) -> torch.Tensor:
        b: torch.Tensor = self.b  # type: ignore[assignment]
        if self.sigma > 2.0 ** 8:
            vp = (2 * math.pi * projected.double()) @ b.double().T
            feats = torch.cat((torch.cos(vp), torch.sin(vp)), dim=-1).to(projected.dtype)
        else:
            vp = 2 * math.pi * projected @ b.T
            feats = torch.cat((torch.cos(vp), torch.sin(vp)), dim=-1)
        return self.head(self.mlp(feats))


class GpsEncoder(nn.Module):
    """Sum of RFF branches over the Equal Earth projection; ``forward`` is unnormalised."""

    def __init__(self, sigmas: Sequence[float] = GEOCLIP_SIGMAS, hidden: int = 1024,
                 dim: int = 512, depth: int = 3, seed: int = 0) -> None:
        super().__init__()
        if not sigmas:
            raise InvalidValueError("gps_sigmas must name at least one σ (GeoCLIP: 1, 16, 256)")
        gen = torch.Generator().manual_seed(seed)
        self.sigmas = [float(s) for s in sigmas]
        self.dim = dim
        self.branches = nn.ModuleList(RffBranch(s, hidden, dim, depth, gen) for s in sigmas)

    def forward(self, latlon: torch.Tensor) -> torch.Tensor:
        projected = equal_earth(latlon.float())
        out = self.branches[0](projected)
        for branch in self.branches[1:]:
            out = out + branch(projected)
        return out


def geoclip_weights_path() -> Path:
    """``location_encoder_weights.pth`` inside the installed ``geoclip`` package (no import
    of geoclip itself: its top level pulls in transformers)."""
    import importlib.util

    spec = importlib.util.find_spec("geoclip")
    if spec is None or not spec.submodule_search_locations:
        raise GeotoolError("gps_init = 'geoclip' needs GeoCLIP's pretrained location encoder: "
                           "install the wheel without its dependencies (pip install --no-deps "
                           "geoclip==1.3.0) or give gps_weights = PATH to "
                           "location_encoder_weights.pth")
    return Path(next(iter(spec.submodule_search_locations))) / "model" / "weights" / \
        "location_encoder_weights.pth"


def geoclip_state_to_geotool(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename GeoCLIP's ``LocEnc{i}.capsule.{0.b,1,3,5}`` / ``.head.0`` keys to ours."""
    out: dict[str, torch.Tensor] = {}
    mlp_index = {"1": "0", "3": "2", "5": "4"}
    for key, value in state.items():
        parts = key.split(".")
        if not parts[0].startswith("LocEnc"):
            raise GeotoolError(f"unexpected key {key!r} in a GeoCLIP location encoder file")
        i = parts[0][len("LocEnc"):]
        if parts[1] == "capsule" and parts[2] == "0":
            out[f"branches.{i}.b"] = value
        elif parts[1] == "capsule":
            out[f"branches.{i}.mlp.{mlp_index[parts[2]]}.{parts[3]}"] = value
        elif parts[1] == "head":
            out[f"branches.{i}.head.{parts[3]}"] = value
        else:
            raise GeotoolError(f"unexpected key {key!r} in a GeoCLIP location encoder file")
    return out


def load_geoclip_weights(encoder: GpsEncoder, path: Path | None = None) -> str:
    """Load GeoCLIP's pretrained location encoder into ``encoder`` (its first three branches
    must be σ = 1, 16, 256 with hidden 1024 and dim 512; a further branch keeps its init).
    Returns a sentence saying what was loaded."""
    path = Path(path) if path else geoclip_weights_path()
    if not path.is_file():
        raise MissingInputError(f"GeoCLIP location encoder weights {path} do not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise GeotoolError(f"cannot read GeoCLIP weights {path}: {exc}") from exc
    mapped = geoclip_state_to_geotool(state)
    own = encoder.state_dict()
    wrong = [k for k, v in mapped.items() if k not in own or own[k].shape != v.shape]
    if wrong or encoder.sigmas[:3] != list(GEOCLIP_SIGMAS):
        raise InvalidValueError(
            f"{path} is GeoCLIP's encoder (σ = 1, 16, 256, hidden 1024, dim 512); this model's "
            f"GPS encoder (σ = {encoder.sigmas}) does not fit it ({len(wrong)} tensors differ): "
            "set gps_sigmas = [1, 16, 256], gps_hidden = 1024, embed_dim = 512")
    encoder.load_state_dict(mapped, strict=False)
    extra = len(encoder.sigmas) - 3
    return f"GPS encoder from GeoCLIP ({path.name})" + (
        f"; {extra} finer branch(es) start fresh" if extra else "")
