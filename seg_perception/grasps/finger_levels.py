"""How a contact side leans along the fingers: from the outermost object points at a few heights along the
fingers ("levels"), how steeply that side slopes at each level, and how far it flares out below the highest level
where it was seen. A level without points tells nothing, and sensor noise moves the outermost point a little.
"""
from __future__ import annotations

import math
from typing import Tuple

import torch

LEVELS = (0.15, 0.35, 0.55, 0.75, 0.95)   # heights along the fingers (shares of their length from the tips)
_LEVEL_HALF = 0.1          # points within this share of the finger length of a level belong to it
_ROUND_RECESSION = math.sqrt(2.0)   # level steps: the most a round side recedes from its widest level to the next


def outermost_per_level(slab: torch.Tensor, heights: torch.Tensor, along: torch.Tensor, tip: torch.Tensor,
                        finger_depth: float) -> Tuple[torch.Tensor, ...]:
    """For G closing lines, each with the object points in its finger slab (``slab`` (G, N)), their ``heights``
    above the support (G, N) and positions ``along`` the closing line (G, N), and the fingertips' height ``tip``
    (G,): the levels' heights (G, 1 + L: the levels along the fingers and one below the fingertips, where the
    object goes on down), whether each level has points (G, 1 + L), the outermost point per level towards the
    +along jaw and, negated, towards the -along jaw (G, 1 + L each; -1e3 where none), and the levels' spacing (m)."""
    shares = torch.tensor((2 * LEVELS[0] - LEVELS[1],) + LEVELS, device=tip.device)
    levels = tip[:, None] + shares[None] * finger_depth                                    # (G, 1 + L)
    # each slab point belongs to the level it is within _LEVEL_HALF finger lengths of (levels are evenly
    # spaced, so at most one): its index, or an extra bin for none
    n_levels = shares.numel()
    spacing = level_step(finger_depth)
    rel = (heights - levels[:, :1]) / spacing                                             # (G, N)
    index = torch.round(rel)
    member = slab & ((rel - index).abs() * spacing <= _LEVEL_HALF * finger_depth) & (index >= 0) \
        & (index < n_levels)
    index = torch.where(member, index.long(), torch.full_like(index, n_levels, dtype=torch.long))
    seen = torch.zeros(tip.shape[0], n_levels + 1, device=tip.device).scatter_add_(
        1, index, torch.ones_like(along))[:, :n_levels] >= 1
    floor = torch.full((tip.shape[0], n_levels + 1), -1e3, device=tip.device)
    ext_hi = floor.scatter_reduce(1, index, along, 'amax')[:, :n_levels]
    ext_lo = floor.scatter_reduce(1, index, -along, 'amax')[:, :n_levels]
    return levels, seen, ext_hi, ext_lo, spacing


def level_step(finger_depth: float) -> float:
    """The spacing of the levels along fingers ``finger_depth`` long (m)."""
    return (LEVELS[1] - LEVELS[0]) * finger_depth


def level_slopes(extreme: torch.Tensor, seen: torch.Tensor, step: float, noise: float) -> torch.Tensor:
    """(G, L) how steeply the contact side leans at each of the levels 1..L (level 0 lies below them): the
    gentler of the two one-sided changes of the outermost point per unit height, less ``noise``. An upright
    side, or the widest part of a round one, changes by no more than the noise; a slanted face moves on both
    sides alike, and a ridge between two slanted faces recedes on both. A neighbour without points tells
    nothing: a level at least as far out as the one neighbour seen may be the widest part of a round side
    whose other half is hidden (a lying can seen from above), and counts as upright — unless it lies more than
    sqrt(2) level steps (and the noise) beyond that neighbour: a circle whose widest part is at most half a step
    from a level recedes by at most that much to the next level still on it, so a steeper change is a slanted
    face (a flat rock's) seen from one side, and counts as one."""
    level = extreme[:, 1:]
    below, above = extreme[:, :-1], torch.cat([extreme[:, 2:], extreme[:, -1:]], 1)
    seen_below = seen[:, :-1]
    seen_above = torch.cat([seen[:, 2:], torch.zeros_like(seen[:, -1:])], 1)
    seen_here = seen[:, 1:]
    down = torch.where(seen_below & seen_here, level - below, torch.zeros_like(level))   # > 0: wider here
    up = torch.where(seen_above & seen_here, level - above, torch.zeros_like(level))
    gentler = torch.minimum(torch.where(seen_below & seen_here, down.abs(), torch.full_like(down, 1e3)),
                            torch.where(seen_above & seen_here, up.abs(), torch.full_like(up, 1e3)))
    gentler = torch.where(gentler >= 1e3, torch.zeros_like(gentler), gentler)
    recession = torch.where(seen_below, down, up)    # to the one neighbour seen
    one_sided_widest = (seen_below ^ seen_above) & (down >= -noise) & (up >= -noise) & \
        (recession <= _ROUND_RECESSION * step + noise)
    return torch.where(one_sided_widest, torch.zeros_like(level), (gentler - noise).clamp_min(0) / step)


def flare(extreme: torch.Tensor, seen: torch.Tensor, noise: float) -> torch.Tensor:
    """(G,) how much farther out, beyond ``noise``, a contact side reaches at some level along the fingers than
    at the highest level where it was seen (0 for an upright side)."""
    levels = torch.arange(seen.shape[1], device=seen.device)
    highest = torch.where(seen, levels, -1).amax(1)
    at_highest = extreme.gather(1, highest.clamp_min(0)[:, None])[:, 0]
    widest = torch.where(seen, extreme, torch.full_like(extreme, -1e3)).amax(1)
    return torch.where(highest >= 0, (widest - at_highest - noise).clamp_min(0), torch.zeros_like(widest))
