"""Connected components of a boolean image, on any device.

scipy labels them on the CPU, also for CUDA tensors: measured on an H100 (480x640 masks), the round trip to
the host took 1.5-5 ms where label propagation in torch took 4-31 ms (thousands of small kernel launches).
"""
from __future__ import annotations

from typing import Tuple

import numpy as np
import torch


def connected_components(mask: torch.Tensor) -> Tuple[torch.Tensor, int]:
    """4-connected components of ``mask`` (H, W): int64 labels 1..count in raster order of their first pixel
    (0 outside), on mask's device."""
    from scipy import ndimage
    labels, count = ndimage.label(mask.detach().cpu().numpy())
    return torch.from_numpy(labels.astype(np.int64)).to(mask.device), int(count)
