"""A tote's or bin's walls are walls, not objects (``surfaces.bin_walls``).

The walls of a tote stand on the support like objects, and were taken for objects, with grasps on them. Seen from
above along the support, a wall's rim is a straight, thin line of raised points, a centimetre or two wide with its
lip, while a box's top goes on beside its edge at the same height, and so does a lying can's round side. So the
raised points at least _TALL high are binned into 1 cm cells on the support plane, each keeping its highest point;
the cells as high as any around them (the rims and the tops, not a wall's face below its rim, which leans and
spreads with the depth's noise) are searched for straight lines one after another (RANSAC; a line scores the
cells on it less half those beside it, so that lines along thin things win over lines across filled ones). A
stretch of a line without gaps whose cells' tops are level may be a wall when it stands at least _UPRIGHT high
and below the camera (so that a top beside it would be seen), and when along most of it the cells at its height
span at most _MAX_WIDTH across it (what stands in a tote is lower than its rim, or leaves gaps). Such stretches,
lengthened along their line over lower cells where less of a wall is seen, are linked where two meet at a corner,
lie on one line (a wall parted by what stands in front of it) or face each other as a tote's opposite walls (both
at least ``surfaces.bin_wall_length``, as high); a group at least 1.5 ``surfaces.bin_wall_length`` long in all is
a tote's walls, and so is a single stretch that long: thin upright objects shorter than that (a book, a board)
stay objects. A wall's pixels are those on its face, whose offset from the line is fitted as a straight function
of the height (moulded totes taper) within three of its noise's sigmas, and those of its rim and lip; the face is
first looked for beside the rim's line as well, as a moulded tote's lip reaches out beyond it. An object leaning
against a wall keeps its own pixels, and the grasp planner still avoids the wall's points.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import List, NamedTuple, Tuple

import torch

from ..geometry import plane_basis
from ..imageops import dilate
from ..types import SURFACE_OBJECT, SURFACE_WALL, SurfaceResult

_CELL = 0.01            # m: side of the cells on the support plane
_TALL = 0.03            # m: only points this high above the support mark a cell (a lying pen or ruler is no wall)
_MAX_LEAN = 0.15        # across per height: a wall's face leans at most this much (8.5 degrees)
_RIM_REACH = 3          # cells: a rim cell is as high as any this close
_UPRIGHT = 0.06         # m: least median height of a wall's cells
_LINE_BAND = 1.0        # cells: a cell this close to a line lies on it
_GAP = 3.0              # cells: a line's stretch ends at a gap wider than this
_SIDE_NEAR, _SIDE_FAR = 2.5, 6.0   # cells: a box's top or a can's side beside a line goes on this far off it
_SIDE_HEIGHT = 0.02     # m: cells this close to a wall's height belong to its top (a rim, a lip)
_MAX_WIDTH = 5.5        # cells: a wall's top with its lip spans at most this much across it (a box's top more)
_WIDE_SHARE = 0.3       # share of a wall's length where something at its height may stand beside it
_IN_LINE = 3.0          # cells: a stretch this close to a wall's line continues it
_CORNER = 6.0           # cells: two walls ending this close to where their lines cross meet at a corner
_CORNER_SHARE = 0.5     # share of bin_wall_length a stretch needs to be part of a tote's walls
_GROUP_LENGTH = 1.5     # in bin_wall_length: least length of linked stretches in all
_LONE_LENGTH = 1.5      # in bin_wall_length: least length of a stretch linked to none
_BELOW_CAMERA = 0.05    # m: a wall's top lies at least this far below the camera
_LEVEL, _LEVEL_SHARE = 0.03, 0.4    # m, share of its height: a wall's cells' tops lie this close to its median
_HYPOTHESES = 256
_FACE_SLOPES = 13       # leans of a wall's face tried, evenly over +-_MAX_LEAN ...
_FACE_STEP = 0.25       # ... and offsets at its rim, in cells ...
_FACE_POINTS = 1500     # ... on at most this many of its points
_SCORED_CELLS = 1500
_MAX_LINES = 12


class _Stretch(NamedTuple):
    """A stretch of a line through cells (in cells): a point on the line, its unit direction, where the stretch
    starts and ends along it, and the median height of its cells' tops (m)."""
    origin: torch.Tensor
    direction: torch.Tensor
    start: float
    end: float
    height: float

    @property
    def length(self) -> float:
        return self.end - self.start + 1

    def offsets(self, cells: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Where ``cells`` (N, 2) lie along the line and across it."""
        rel = cells - self.origin
        d = self.direction
        return rel @ d, rel @ torch.stack([-d[1], d[0]])


def bin_wall_pixels(points: torch.Tensor, raised: torch.Tensor, heights: torch.Tensor, up: torch.Tensor,
                    min_length: float, seed: int = 0) -> torch.Tensor:
    """(H, W) raised pixels (``raised``; ``points`` (H, W, 3) in the camera frame, ``heights`` above the support,
    whose normal is ``up``) on bin walls at least ``min_length`` (m) long."""
    walls = torch.zeros_like(raised)
    if not bool(raised.any()):
        return walls
    a, b = plane_basis(up)
    p = points[raised]
    uv = torch.stack([p @ a, p @ b], 1) / _CELL          # in cells
    h = heights[raised]
    tall = h >= _TALL
    if int(tall.sum()) < min_length / _CELL:
        return walls
    # one entry per occupied cell: its centre and its highest point (one number per cell: torch.unique over rows
    # is slow)
    cell = torch.floor(uv[tall]).long()
    corner = cell.amin(0)
    cell -= corner
    size = (cell.amax(0) + 1).tolist()
    keys, inverse = torch.unique(cell[:, 0] * size[1] + cell[:, 1], return_inverse=True)
    top = torch.zeros(keys.shape[0], dtype=h.dtype, device=h.device).scatter_reduce_(0, inverse, h[tall], 'amax')
    # the cells as high as any within _RIM_REACH: a wall's rim (and lip), not the face below it, which leans and
    # spreads with the depth's noise
    grid = torch.zeros(size[0] * size[1], dtype=h.dtype, device=h.device).index_copy_(0, keys, top)
    highest = dilate(grid.view(size), _RIM_REACH).view(-1)[keys]
    rim = top >= highest - _SIDE_HEIGHT
    keys = torch.stack([keys // size[1], keys % size[1]], 1) + corner
    centres = keys.to(uv.dtype) + 0.5
    # the camera's height above the support (it is the origin): a wall's top must be below it, in view, for
    # its thinness to tell (a box seen from below its top shows a face only)
    camera_height = float((h - p @ up).median())
    on_wall = torch.zeros(p.shape[0], dtype=torch.bool, device=p.device)
    for wall in _walls(centres, top, rim, camera_height, min_length / _CELL, seed):
        on_wall |= _on_wall(uv, h, tall, wall)
    walls[raised] = on_wall
    return walls


def _on_wall(uv: torch.Tensor, h: torch.Tensor, tall: torch.Tensor, wall: _Stretch) -> torch.Tensor:
    """Which points (``uv`` (N, 2) on the support plane in cells, ``h`` their heights, ``tall`` those at least
    _TALL high) belong to the ``wall``: a tote's walls lean (they taper towards the floor) and the depth's noise
    spreads them, so the offset of its face from the line is fitted as a straight function of the height to the
    tall points near it, and the points within three of its noise's sigmas (at least a cell) of it, or near its
    top within a lip's width, are the wall's."""
    along, across = wall.offsets(uv)
    # nothing above its rim is the wall
    inside = (along >= wall.start - 1) & (along <= wall.end + 1) & (h <= wall.height + _SIDE_HEIGHT)
    near = inside & tall & (across.abs() <= _SIDE_FAR)
    offset, slope = _face_line(along[near], across[near], h[near], wall)
    fit = near & ((across - offset - slope * h).abs() <= 2 * _LINE_BAND)
    lean = torch.zeros(2, dtype=uv.dtype, device=uv.device)
    reach = torch.tensor(1.0, device=uv.device)
    for _ in range(3):
        if int(fit.sum()) < 3:
            break
        design = torch.stack([torch.ones_like(h[fit]), h[fit]], 1)
        lean = torch.linalg.lstsq(design, across[fit, None]).solution.squeeze(1)
        # a tote's walls taper by a few degrees
        lean[1] = lean[1].clamp(-_MAX_LEAN / _CELL, _MAX_LEAN / _CELL)
        residual = across - lean[0] - lean[1] * h
        sigma = 1.4826 * residual[fit].abs().median()
        reach = (3 * sigma).clamp(1.0, _SIDE_NEAR)
        fit = near & (residual.abs() <= reach)
    residual = (across - lean[0] - lean[1] * h).abs()
    lip = (h >= wall.height - _SIDE_HEIGHT) & (across.abs() <= _SIDE_NEAR)
    return inside & (across.abs() <= _SIDE_FAR) & ((residual <= reach) | lip)


def _face_line(along: torch.Tensor, across: torch.Tensor, h: torch.Tensor, wall: _Stretch) -> Tuple[float, float]:
    """(offset, slope): the straight line across = offset + slope h (cells; ``h`` in m) of the ``wall``'s face, from
    points near it (``along`` and ``across`` its line). A moulded tote's lip reaches out beyond its face, so the
    face below the rim need not lie on the rim's line: among lines leaning at most _MAX_LEAN that meet the rim
    within a lip's width (_SIDE_NEAR) of the rim's line, the one with points within a cell of it below the rim
    along most of the wall's length, if one has them along at least half of it; else the rim's line (the face is
    out of sight, and what stands before the wall is not its face)."""
    if across.numel() > _FACE_POINTS:
        keep = torch.linspace(0, across.numel() - 1, _FACE_POINTS, device=across.device).long()
        along, across, h = along[keep], across[keep], h[keep]
    below_rim = h < wall.height - _SIDE_HEIGHT
    along, across, h = along[below_rim], across[below_rim], h[below_rim]
    if across.numel() == 0:
        return 0.0, 0.0
    slopes = torch.linspace(-_MAX_LEAN / _CELL, _MAX_LEAN / _CELL, _FACE_SLOPES, device=h.device)
    at_rim = torch.arange(-_SIDE_NEAR, _SIDE_NEAR + 1e-6, _FACE_STEP, device=h.device)
    off = across[None, None] - at_rim[:, None, None] - slopes[None, :, None] * (h - wall.height)[None, None]
    on_line = (off.abs() <= _LINE_BAND).reshape(-1, across.numel()).float()          # (lines, N)
    # how much of the wall's length each line's points cover
    bins = int(math.ceil(wall.length)) + 2
    position = (along - wall.start + 1).floor().long().clamp(0, bins - 1)
    covered = (torch.zeros(on_line.shape[0], bins, device=h.device)
               .scatter_add_(1, position.expand_as(on_line), on_line) > 0).sum(1)
    # most of the length first, then most points
    best = int((covered * (on_line.shape[1] + 1) + on_line.sum(1).long()).argmax())
    if int(covered[best]) < 0.5 * wall.length:
        return 0.0, 0.0
    rim, slope = float(at_rim[best // slopes.numel()]), float(slopes[best % slopes.numel()])
    return rim - slope * wall.height, slope


def _walls(centres: torch.Tensor, top: torch.Tensor, rim: torch.Tensor, camera_height: float, min_cells: float,
           seed: int) -> List[_Stretch]:
    """Wall stretches along the ``rim`` cells among occupied cells (``centres`` (N, 2) in cells, ``top``: their
    heights; the camera ``camera_height`` m above the support; walls at least ``min_cells`` long; see the
    module's text)."""
    generator = torch.Generator(device='cpu').manual_seed(seed)
    free = rim.clone()
    shortest = _CORNER_SHARE * min_cells
    candidates = []
    for _ in range(_MAX_LINES):
        pool = torch.nonzero(free).squeeze(1)
        if pool.numel() < shortest:
            break
        pairs = pool[torch.randint(pool.numel(), (_HYPOTHESES, 2), generator=generator).to(pool.device)]
        start, end = centres[pairs[:, 0]], centres[pairs[:, 1]]
        direction = end - start
        length = direction.norm(dim=1, keepdim=True)
        usable = length.squeeze(1) >= 2
        direction = direction / length.clamp_min(1e-6)
        normal = torch.stack([-direction[:, 1], direction[:, 0]], 1)
        # scored on a sample of the cells when there are many (a large object close to the camera)
        scored = pool if pool.numel() <= _SCORED_CELLS else pool[torch.randperm(
            pool.numel(), generator=generator)[:_SCORED_CELLS].to(pool.device)]
        off = (centres[scored] @ normal.T - (start * normal).sum(1)).abs()           # (M, K)
        inliers = (off <= _LINE_BAND).sum(0)
        # a line along a wall has little right beside it; one across a filled area (a box's top) has twice as
        # much as on it: the cells on the line less half those beside it, among lines long enough
        score = 3 * inliers - (off <= _SIDE_NEAR + _LINE_BAND).sum(0)
        enough = usable & (inliers * pool.numel() >= shortest * scored.numel())
        if not bool(enough.any()):
            break
        best = int(torch.where(enough, score, score.min() - 1).argmax())
        origin, d = _refined(centres[pool], start[best], direction[best])
        across = (centres[pool] - origin) @ torch.stack([-d[1], d[0]])
        members = pool[across.abs() <= _LINE_BAND]
        along = (centres[members] - origin) @ d
        order = torch.argsort(along)
        along, members = along[order], members[order]
        for run in _level_runs(along, members, top):
            stretch = _Stretch(origin, d, float(along[run[0]]), float(along[run[-1]]),
                               float(top[members[run]].median()))
            if stretch.length >= shortest and _is_wall(centres, top, stretch, camera_height):
                candidates.append(stretch)
                # the rest of the wall's thickness is no other wall
                along_wall, across_wall = stretch.offsets(centres)
                free &= ~((across_wall.abs() < _SIDE_NEAR) & (along_wall >= stretch.start - 1)
                          & (along_wall <= stretch.end + 1))
        free[members] = False   # wall or not, the next line is another
    return _grouped([_extended(centres, top, c) for c in candidates], min_cells)


def _grouped(candidates: List[_Stretch], min_cells: float) -> List[_Stretch]:
    """The ``candidates`` that are walls: in a group linked at corners, in line or facing each other at least
    _GROUP_LENGTH ``min_cells`` long in all, or at least _LONE_LENGTH ``min_cells`` long themselves."""
    n = len(candidates)
    group = list(range(n))

    def root(k):
        while group[k] != k:
            k = group[k]
        return k

    for i in range(n):
        for j in range(i + 1, n):
            if _at_corner(candidates[i], candidates[j]) or _in_line(candidates[i], candidates[j]) \
                    or _facing(candidates[i], candidates[j], min_cells):
                group[root(i)] = root(j)
    lengths = [c.length for c in candidates]
    total, members = {}, {}
    for k in range(n):
        total[root(k)] = total.get(root(k), 0.0) + lengths[k]
        members[root(k)] = members.get(root(k), 0) + 1
    return [c for k, c in enumerate(candidates)
            if (members[root(k)] > 1 and total[root(k)] >= _GROUP_LENGTH * min_cells)
            or lengths[k] >= _LONE_LENGTH * min_cells]


def _extended(centres: torch.Tensor, top: torch.Tensor, wall: _Stretch) -> _Stretch:
    """The ``wall`` lengthened along its line over the cells (``centres``, ``top``: their heights) that continue
    it without a gap and are no higher than it: where a wall leaves the view, less of its height is seen."""
    along, across = wall.offsets(centres)
    on_line = (across.abs() <= _LINE_BAND) & (top <= wall.height + _LEVEL)
    along = torch.sort(along[on_line]).values
    for run in _runs(along, torch.ones_like(along, dtype=torch.bool)):
        lo, hi = float(along[run[0]]), float(along[run[-1]])
        if lo <= wall.start + 0.5 and hi >= wall.end - 0.5:
            return wall._replace(start=min(lo, wall.start), end=max(hi, wall.end))
    return wall


def _runs(along: torch.Tensor, keep: torch.Tensor) -> List[torch.Tensor]:
    """Indices of the kept cells (``along``: their sorted positions on a line) in runs without gaps."""
    index = torch.nonzero(keep).squeeze(1)
    if index.numel() == 0:
        return []
    breaks = torch.nonzero(along[index][1:] - along[index][:-1] > _GAP).squeeze(1) + 1
    return list(torch.tensor_split(index, breaks.cpu()))


def _level_runs(along: torch.Tensor, members: torch.Tensor, top: torch.Tensor) -> List[torch.Tensor]:
    """Runs without gaps of the cells ``members`` (sorted by ``along``, their position on the line) whose tops
    are level with their run's median: a wall's rim is level, a row of objects is not one wall."""
    level_runs = []
    for run in _runs(along, torch.ones_like(along, dtype=torch.bool)):
        heights = top[members[run]]
        middle = float(heights.median())
        keep = torch.zeros_like(along, dtype=torch.bool)
        keep[run] = (heights - middle).abs() <= max(_LEVEL, _LEVEL_SHARE * middle)
        level_runs += _runs(along, keep)
    return level_runs


def _refined(cells: torch.Tensor, origin: torch.Tensor, d: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """The line (a point on it, its unit direction) fitted by least squares to the ``cells`` near the line
    (``origin``, ``d``) found from two of them: through the middle of a wall's thickness, along it."""
    for _ in range(2):
        near = cells[((cells - origin) @ torch.stack([-d[1], d[0]])).abs() <= _LINE_BAND + 1]
        if near.shape[0] < 3:
            break
        origin = near.mean(0)
        centred = near - origin
        d = torch.linalg.eigh(centred.T @ centred)[1][:, -1]
    return origin, d


def _in_line(first: _Stretch, second: _Stretch) -> bool:
    """Whether two stretches lie on one line (within 5 degrees and _IN_LINE cells): one wall, parted where
    something in front of it hides it."""
    if float((first.direction @ second.direction).abs()) < math.cos(math.radians(5)):
        return False
    ends = torch.stack([second.origin + second.start * second.direction,
                        second.origin + second.end * second.direction])
    return bool((first.offsets(ends)[1].abs() <= _IN_LINE).all())


def _facing(first: _Stretch, second: _Stretch, min_cells: float) -> bool:
    """Whether two stretches, each at least ``min_cells`` long, face each other as a tote's opposite walls do:
    parallel (within 10 degrees), as high (within _SIDE_HEIGHT), side by side along half the shorter at least."""
    if min(first.length, second.length) < min_cells or abs(first.height - second.height) > _SIDE_HEIGHT \
            or float((first.direction @ second.direction).abs()) < math.cos(math.radians(10)):
        return False
    ends = torch.stack([second.origin + second.start * second.direction,
                        second.origin + second.end * second.direction])
    along = first.offsets(ends)[0].tolist()
    overlap = min(first.end, max(along)) - max(first.start, min(along))
    return overlap >= 0.5 * min(first.length, second.length)


def _at_corner(first: _Stretch, second: _Stretch) -> bool:
    """Whether two stretches meet at an angle of at least 45 degrees where both end (within _CORNER cells): a
    tote's corner, not a thin object standing against a wall."""
    d, e = first.direction, second.direction
    if float((d @ e).abs()) > math.cos(math.radians(45)):
        return False
    # where the two lines cross: first.origin + t d = second.origin + s e
    t, s = torch.linalg.solve(torch.stack([d, -e], 1), second.origin - first.origin).tolist()
    return (min(abs(t - first.start), abs(t - first.end)) <= _CORNER
            and min(abs(s - second.start), abs(s - second.end)) <= _CORNER)


def _is_wall(centres: torch.Tensor, top: torch.Tensor, stretch: _Stretch, camera_height: float) -> bool:
    """Whether the ``stretch`` stands upright, below the camera, and is thin: across most of its length, the cells
    (``centres`` with heights ``top``) at its height span at most _MAX_WIDTH across it."""
    if stretch.height < _UPRIGHT or stretch.height > camera_height - _BELOW_CAMERA:
        return False
    along, across = stretch.offsets(centres)
    level = (((top - stretch.height).abs() <= _SIDE_HEIGHT) & (along >= stretch.start) & (along <= stretch.end)
             & (across.abs() <= _SIDE_FAR))
    if not bool(level.any()):
        return False
    position = torch.floor(along[level] - stretch.start).long()
    bins = int(position.max()) + 1
    lowest = torch.full((bins,), math.inf, device=centres.device).scatter_reduce_(0, position, across[level], 'amin')
    highest = torch.full((bins,), -math.inf, device=centres.device).scatter_reduce_(0, position, across[level], 'amax')
    wide = int(((highest - lowest + 1) > _MAX_WIDTH).sum())
    return wide <= _WIDE_SHARE * stretch.length


def label_bin_walls(surfaces: SurfaceResult, points: torch.Tensor, min_length: float, seed: int = 0
                    ) -> SurfaceResult:
    """``surfaces`` (on the grid of ``points``) with the raised object pixels of bin walls labelled wall and taken
    from the raised candidates for objects; unchanged without a support surface."""
    if surfaces.heights is None or surfaces.up is None or surfaces.raised is None:
        return surfaces
    up = torch.as_tensor(surfaces.up, dtype=points.dtype).to(points.device)
    candidates = surfaces.raised & (surfaces.labels == SURFACE_OBJECT)
    walls = bin_wall_pixels(points, candidates, surfaces.heights, up, min_length, seed)
    if not bool(walls.any()):
        return surfaces
    labels = torch.where(walls, torch.full_like(surfaces.labels, SURFACE_WALL), surfaces.labels)
    return replace(surfaces, labels=labels, raised=surfaces.raised & ~walls)
