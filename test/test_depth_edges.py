"""Depth ramps a smoothing sensor makes of occlusion edges: cut sharp by colour, and how wide they are
(depth_edges.py)."""
import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from seg_perception.depth_edges import SMOOTHED_SPREAD, edge_spread, sharpen_depth_ramps, smoothed_depth_advice
from seg_perception.stream_watch import MedianWatch

NEAR, FAR = np.array([200, 40, 40], np.uint8), np.array([90, 160, 90], np.uint8)
EDGE = 30        # columns left of it belong to the near object, the rest to the far surface behind it


def _scene(depth_profile, colours=(NEAR, FAR), rows=24):
    """(depth, colour) images whose every row is ``depth_profile``; columns left of EDGE in the first colour."""
    depth = np.tile(np.asarray(depth_profile, np.float32), (rows, 1))
    colour = np.empty(depth.shape + (3,), np.uint8)
    colour[:, :EDGE], colour[:, EDGE:] = colours
    return depth, colour


def _sharpen(depth, colour, reach=8):
    return sharpen_depth_ramps(torch.from_numpy(depth), torch.from_numpy(colour), reach, 0.012).numpy()


def _step(width=60):
    return np.where(np.arange(width) < EDGE, 0.6, 0.9).astype(np.float32)


def test_a_smoothed_occlusion_edge_is_cut_where_the_colour_changes():
    depth, colour = _scene(gaussian_filter1d(_step(), 3.0, mode='nearest'))
    between = (depth > 0.62) & (depth < 0.88)
    assert between.sum() >= 24 * 8          # the ramp: about 8 pixels per row at in-between depths
    out = _sharpen(depth, colour)
    near, far = np.zeros(depth.shape, bool), np.zeros(depth.shape, bool)
    near[:, :EDGE], far[:, EDGE:] = True, True
    # the object keeps its depth up to its edge and the surface behind gets its own depth back, but for the pixel
    # or two at either end of the ramp whose window reaches into the slope
    assert depth[near & between].max() > 0.72 and depth[far & between].min() < 0.78
    for side, level in ((near, 0.6), (far, 0.9)):
        error = np.abs(out[side & between] - level)
        assert error.max() < 0.07 and np.mean(error < 0.005) >= 0.5
    assert (out > 0).all()
    # away from the edge nothing changes
    np.testing.assert_array_equal(out[:, :EDGE - 10], depth[:, :EDGE - 10])
    np.testing.assert_array_equal(out[:, EDGE + 10:], depth[:, EDGE + 10:])


def test_a_sharp_edge_and_its_flying_pixel_are_left_as_measured():
    profile = _step()
    profile[EDGE] = 0.75                    # one pixel halfway between the surfaces, as time-of-flight sensors give
    depth, colour = _scene(profile)
    np.testing.assert_array_equal(_sharpen(depth, colour), depth)
    profile[EDGE] = 0.0                     # or a lost pixel at the edge
    depth, colour = _scene(profile)
    np.testing.assert_array_equal(_sharpen(depth, colour), depth)


def test_surfaces_seen_at_a_slant_are_no_ramps():
    columns = np.arange(60)
    # a plane seen at a grazing angle (linear in inverse depth along the row), its print changing colour
    plane = 1 / (1 / 0.6 - (1 / 0.6 - 1 / 0.9) * columns / 59)
    # a ridge: a steep face meeting a level one
    ridge = np.minimum(0.6 + 0.012 * columns, 0.9)
    for profile in (plane, ridge):
        depth, colour = _scene(profile)
        np.testing.assert_array_equal(_sharpen(depth, colour), depth)


def test_a_ramp_between_sides_of_one_colour_is_left_alone():
    depth, colour = _scene(gaussian_filter1d(_step(), 3.0, mode='nearest'), colours=(NEAR, NEAR))
    np.testing.assert_array_equal(_sharpen(depth, colour), depth)


def test_columns_are_sharpened_like_rows():
    depth, colour = _scene(gaussian_filter1d(_step(), 3.0, mode='nearest'))
    rows = _sharpen(depth, colour)
    columns = _sharpen(np.ascontiguousarray(depth.T), np.ascontiguousarray(colour.transpose(1, 0, 2)))
    np.testing.assert_array_equal(columns, rows.T)


def test_sharp_synthetic_frames_keep_their_depth_almost_everywhere():
    """On depth with sharp edges there is next to nothing to sharpen: measured 0.013-0.045 % of the pixels change
    on these frames (0.09-0.26 % if the window's ends need not go on along their own lines: round and textured
    surfaces then count as ramps)."""
    from seg_perception.synthetic import SceneConfig, synthesize
    small = SceneConfig(width=320, height=240, fx=307.5, fy=307.5)
    changed = []
    for seed in range(101, 105):
        frame = synthesize(seed, small).rgbd()
        depth = torch.from_numpy(frame.depth)
        out = sharpen_depth_ramps(depth, torch.from_numpy(frame.color), 4, 0.012)
        changed.append(float(((out != depth) & (depth > 0)).sum() / (depth > 0).sum()))
    assert np.mean(changed) < 0.0006


def _spread(depth):
    return edge_spread(torch.from_numpy(np.ascontiguousarray(depth, np.float32)), 0.012)


def test_the_spread_of_an_edge_is_how_many_pixels_it_changes_over():
    width = 120
    step = np.where(np.arange(width) < 60, 0.6, 0.9).astype(np.float32)
    assert _spread(np.tile(step, (80, 1))) == (1.0, 40)              # a clean step; every second row is measured
    flying = step.copy()
    flying[60] = 0.75                                                 # a time-of-flight mixed pixel: two steps
    assert _spread(np.tile(flying, (80, 1)))[0] == 2.0
    # a Gaussian smear of sigma pixels spreads an edge over about 2.5 sigma: 3.8, 7.5 and (too wide for the
    # window at full resolution, measured on every second pixel) 12.5
    for sigma in (1.5, 3.0, 5.0):
        spread, edges = _spread(np.tile(gaussian_filter1d(step, sigma, mode='nearest'), (160, 1)))
        assert edges >= 30 and abs(spread - 2.5 * sigma) < 0.2 * 2.5 * sigma, (sigma, spread)
    # columns like rows
    spread, _ = _spread(np.tile(gaussian_filter1d(step, 3.0, mode='nearest'), (80, 1)).T)
    assert abs(spread - 7.5) < 1.5


def test_surfaces_without_edges_and_frames_with_few_give_no_spread():
    columns = np.arange(120)
    slanted = 1 / (1 / 0.6 - (1 / 0.6 - 1 / 1.5) * columns / 119)    # a table seen at a grazing angle
    rng = np.random.default_rng(0)
    noisy = slanted + rng.normal(0, 0.001, (80, 120)) * slanted ** 2
    spread, edges = _spread(noisy)
    assert np.isnan(spread) and edges < 30
    step = np.where(columns < 60, 0.6, 0.9)
    spread, edges = _spread(np.tile(step, (40, 1)))                  # 20 edges measured: too few to tell
    assert np.isnan(spread) and edges == 20
    holes = np.tile(step, (80, 1))
    holes[:, 58:63] = 0                                               # the edge lost, as stereo loses it
    assert np.isnan(_spread(holes)[0])


def test_sharp_and_smeared_synthetic_frames_are_told_apart():
    """Measured on 80 frames at 640x480: sharp 1.0-2.3 (p50 1.06), smeared by a Gaussian of 1.5 px 3.3-4.8
    (p50 3.8), of 3 px 7.0-9.9 (p50 7.7)."""
    from seg_perception.synthetic import NoiseConfig, SceneConfig, synthesize
    small = SceneConfig(width=320, height=240, fx=307.5, fy=307.5)
    for seed in (101, 102):
        sharp, smeared = (edge_spread(torch.from_numpy(synthesize(seed, small, NoiseConfig(edge_smear_px=px))
                                                       .rendered.depth), 0.012)[0] for px in (0.0, 1.5))
        assert sharp < 2.0 < SMOOTHED_SPREAD < smeared < 5.0, (seed, sharp, smeared)


def _advise(reach):
    return lambda spread, frames: smoothed_depth_advice(spread, reach, frames)


def test_smoothed_depth_is_advised_about_once_and_not_when_sharpened_or_sharp():
    watch = MedianWatch(every=5, keep=4, least=3)
    due = [watch.due() for _ in range(3)]
    assert due == [True, True, True]                   # the first frames are measured until three are in
    for spread in (4.0, float('nan'), 4.4):            # NaN: a frame with too few edges, not counted
        watch.record(spread)
    assert watch.advice(_advise(0)) is None and np.isclose(watch.median, 4.2)
    assert watch.due()                                  # still two measured
    watch.record(3.6)
    assert watch.advice(_advise(8)) is None             # depth.sharpen_ramps is on already
    text = watch.advice(_advise(0))
    assert text.startswith('depth edges spread over 4.0 px (median over 3 frames') and 'sharpen_ramps: 8' in text
    assert watch.advice(_advise(0)) is None             # said once
    assert [watch.due() for _ in range(10)] == [False, True, False, False, False, False, True, False, False, False]
    sharp = MedianWatch(every=1, least=1)
    sharp.record(1.2)
    assert sharp.advice(_advise(0)) is None
    assert smoothed_depth_advice(float('nan'), 0) is None
    assert 'median over one frame' in smoothed_depth_advice(SMOOTHED_SPREAD, 0)
