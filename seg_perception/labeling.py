"""Connected components of a boolean image: scipy on the CPU, label propagation in torch on a GPU."""
from __future__ import annotations

from typing import Tuple

import numpy as np
import torch


def connected_components(mask: torch.Tensor) -> Tuple[torch.Tensor, int]:
    """4-connected components of ``mask`` (H, W): int64 labels 1..count (0 outside), on mask's device."""
    if mask.device.type == 'cpu':
        from scipy import ndimage
        labels, count = ndimage.label(mask.numpy())
        return torch.from_numpy(labels.astype(np.int64)), int(count)
    return _propagate_labels(mask)


def _propagate_labels(mask: torch.Tensor) -> Tuple[torch.Tensor, int]:
    h, w = mask.shape
    index = torch.arange(1, h * w + 1, device=mask.device, dtype=torch.int64).view(h, w)
    labels = torch.where(mask, index, torch.zeros_like(index))
    for i in range(4 * (h + w)):
        prev = labels
        m = labels.clone()
        m[1:] = torch.maximum(m[1:], labels[:-1])
        m[:-1] = torch.maximum(m[:-1], labels[1:])
        m[:, 1:] = torch.maximum(m[:, 1:], labels[:, :-1])
        m[:, :-1] = torch.maximum(m[:, :-1], labels[:, 1:])
        labels = torch.where(mask, m, labels)
        # pointer jumping: a label is a pixel index inside the same component; take that pixel's label
        flat = labels.view(-1)
        labels = torch.where(mask, flat[(labels - 1).clamp_min(0)], labels)
        if i % 8 == 7 and torch.equal(prev, labels):
            break
    # number components in raster order of their first pixel, as scipy does: later stages visit them in label
    # order, so both devices give the same result
    flat = labels.view(-1)
    first = torch.full((h * w + 1,), h * w, dtype=torch.int64, device=mask.device)
    first = first.scatter_reduce(0, flat, torch.arange(h * w, device=mask.device), 'amin')
    ids = torch.nonzero(first < h * w).squeeze(1)
    ids = ids[ids > 0]
    ids = ids[torch.argsort(first[ids])]
    new_id = torch.zeros(h * w + 1, dtype=torch.int64, device=mask.device)
    new_id[ids] = torch.arange(1, ids.numel() + 1, device=mask.device)
    return new_id[labels], int(ids.numel())
