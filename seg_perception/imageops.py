"""Small image filters on torch tensors that stay fast on the CPU (torch's pooling is slow for one channel)."""
from __future__ import annotations

from typing import Optional

import torch


def _shift_max(x: torch.Tensor, radius: int, dim: int) -> torch.Tensor:
    """Maximum over [i - radius, i + radius] along ``dim`` (the part inside the image)."""
    n = x.shape[dim]
    if radius >= _LOG_STEP_RADIUS and radius < n:
        return _window_max(x, radius, dim)
    out = x.clone()
    for k in range(1, radius + 1):
        if k >= n:
            break
        a = out.narrow(dim, k, n - k)
        torch.maximum(a, x.narrow(dim, 0, n - k), out=a)
        b = out.narrow(dim, 0, n - k)
        torch.maximum(b, x.narrow(dim, k, n - k), out=b)
    return out


_LOG_STEP_RADIUS = 3   # from this radius on, windows grow in doubling steps (fewer operations than one per pixel)


def _window_max(x: torch.Tensor, radius: int, dim: int) -> torch.Tensor:
    """:func:`_shift_max` in O(log radius) operations: forward windows [i, i + span) double in span, two
    overlapping ones cover [i, i + 2 radius], shifted back by radius; the first outputs, whose window is cut by
    the start, are running maxima from the start."""
    n = x.shape[dim]
    length = 2 * radius + 1

    def combined(a: torch.Tensor, shift: int) -> torch.Tensor:   # max(a[i], a[i + shift]) where i + shift < n
        out = a.clone()
        torch.maximum(a.narrow(dim, 0, n - shift), a.narrow(dim, shift, n - shift), out=out.narrow(dim, 0, n - shift))
        return out

    ahead, span = x, 1
    while 2 * span <= length:
        ahead = combined(ahead, span) if span < n else ahead
        span *= 2
    rest = length - span
    window = combined(ahead, rest) if 0 < rest < n else ahead   # max over [i, i + length), cut at the end
    out = torch.empty_like(x)
    out.narrow(dim, radius, n - radius).copy_(window.narrow(dim, 0, n - radius))
    start = torch.cummax(x.narrow(dim, 0, min(n, 2 * radius)), dim=dim % x.dim()).values
    reach = (torch.arange(radius, device=x.device) + radius).clamp_max(start.shape[dim % x.dim()] - 1)
    out.narrow(dim, 0, radius).copy_(start.index_select(dim % x.dim(), reach))
    return out


def repeat_pixels(x: torch.Tensor, factor: int, height: int, width: int) -> torch.Tensor:
    """Nearest-neighbour upsampling of the last two dimensions by ``factor``, cropped to height x width."""
    if factor == 1:
        return x[..., :height, :width]
    *lead, h, w = x.shape
    big = x[..., :, None, :, None].expand(*lead, h, factor, w, factor).reshape(*lead, h * factor, w * factor)
    return big[..., :height, :width]


def neighbour_max_at(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``x`` (H, W) with each ``mask`` pixel replaced by the largest value in its 3 x 3 neighbourhood: a
    one-pixel dilation at a few pixels only."""
    h, w = x.shape
    rows, cols = torch.nonzero(mask, as_tuple=True)
    if rows.numel() == 0:
        return x
    step = torch.tensor([-1, 0, 1], device=x.device)
    r = (rows[:, None, None] + step[None, :, None]).clamp(0, h - 1)
    c = (cols[:, None, None] + step[None, None, :]).clamp(0, w - 1)
    out = x.clone()
    out[rows, cols] = x[r, c].reshape(rows.numel(), 9).amax(1)
    return out


def grow_labels(labels: torch.Tensor, allowed: Optional[torch.Tensor], iterations: int) -> torch.Tensor:
    """Unlabelled (0) pixels, where ``allowed`` (None: everywhere), take a neighbouring label, one pixel per
    iteration (the larger id where two meet)."""
    for _ in range(iterations):
        free = labels == 0 if allowed is None else (labels == 0) & allowed
        labels = torch.where(free, dilate(labels, 1), labels)
    return labels


def dilate(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Maximum over a (2r+1) x (2r+1) square of the last two dimensions (bool, integer or float)."""
    if radius <= 0:
        return x
    as_bool = x.dtype == torch.bool
    y = x.to(torch.uint8) if as_bool else x
    y = _shift_max(_shift_max(y, radius, -1), radius, -2)
    return y.bool() if as_bool else y


def _shift_add(x: torch.Tensor, radius: int, dim: int) -> torch.Tensor:
    out = x.clone()
    n = x.shape[dim]
    for k in range(1, min(radius, n - 1) + 1):
        out.narrow(dim, k, n - k).add_(x.narrow(dim, 0, n - k))
        out.narrow(dim, 0, n - k).add_(x.narrow(dim, k, n - k))
    return out


def box_sum(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Sum over a (2r+1) x (2r+1) window of the last two dimensions (zero outside); for small radii."""
    return _shift_add(_shift_add(x, radius, -1), radius, -2)


def norm3(v: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Euclidean length over a size-3 dimension (much faster than torch.linalg.norm there on the CPU)."""
    a, b, c = v.unbind(dim)
    return torch.sqrt(a * a + b * b + c * c)


def cross3(u: torch.Tensor, v: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Cross product over a size-3 dimension (torch.cross is several times slower there on the CPU)."""
    a0, a1, a2 = u.unbind(dim)
    b0, b1, b2 = v.unbind(dim)
    return torch.stack((a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0), dim)


def dot3(u: torch.Tensor, v: torch.Tensor, dim: int = -1) -> torch.Tensor:
    a0, a1, a2 = u.unbind(dim)
    b0, b1, b2 = v.unbind(dim)
    return a0 * b0 + a1 * b1 + a2 * b2


_SRGB_TO_XYZ = ((0.4124, 0.3576, 0.1805), (0.2126, 0.7152, 0.0722), (0.0193, 0.1192, 0.9505))
_D65_WHITE = (0.95047, 1.0, 1.08883)


def rgb_to_lab(color: torch.Tensor) -> torch.Tensor:
    """CIELAB (L 0-100, a, b) of sRGB ``color`` (..., 3) uint8 or 0-255, D65 white: distances there follow how
    different colours look (a shadow moves mostly L)."""
    c = color.float() / 255.0
    linear = torch.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ torch.tensor(_SRGB_TO_XYZ, dtype=c.dtype, device=c.device).T
    t = xyz / torch.tensor(_D65_WHITE, dtype=c.dtype, device=c.device)
    edge = (6 / 29) ** 3
    f = torch.where(t > edge, t.clamp_min(edge) ** (1 / 3), t / (3 * (6 / 29) ** 2) + 4 / 29)
    fx, fy, fz = f.unbind(-1)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], -1)


def bounding_box(mask: torch.Tensor, margin: int):
    """(y0, y1, x0, x1) around the True pixels plus a margin, clipped to the image."""
    h, w = mask.shape
    rows = torch.nonzero(mask.any(1)).squeeze(1)
    cols = torch.nonzero(mask.any(0)).squeeze(1)
    if rows.numel() == 0:
        return 0, h, 0, w
    return (max(0, int(rows[0]) - margin), min(h, int(rows[-1]) + 1 + margin),
            max(0, int(cols[0]) - margin), min(w, int(cols[-1]) + 1 + margin))
