"""The approximate time synchronizer pairs colour, depth and camera_info by stamp, with bounded queues."""
import pytest

from seg_perception.ros.sync import ApproximateTimeSync


def _sync(slop=0.01, queue=5):
    out = []
    return ApproximateTimeSync(3, slop, queue, lambda msgs, stamps: out.append((msgs, stamps))), out


def test_identical_stamps_in_any_order():
    sync, out = _sync()
    sync.add(2, 1.0, 'info1')
    sync.add(0, 1.0, 'color1')
    assert out == []
    sync.add(1, 1.0, 'depth1')
    assert out == [(('color1', 'depth1', 'info1'), (1.0, 1.0, 1.0))]
    assert sync.pending() == [0, 0, 0]


def test_pairs_within_slop_and_skips_lonely_messages():
    sync, out = _sync(slop=0.005)
    sync.add(0, 1.000, 'c1')
    sync.add(0, 1.033, 'c2')          # c1's depth never comes
    sync.add(1, 1.034, 'd2')
    sync.add(2, 1.031, 'i2')
    assert [m for m, _ in out] == [('c2', 'd2', 'i2')]
    assert sync.stats.dropped_unmatched == 1 and sync.stats.emitted == 1
    sync.add(1, 1.010, 'late-depth')  # older than what was already emitted: stale
    assert sync.stats.dropped_stale == 1
    sync.add(0, 1.066, 'c3')
    sync.add(1, 1.080, 'd3')          # 14 ms apart: beyond the slop, nothing emitted
    sync.add(2, 1.066, 'i3')
    assert len(out) == 1


def test_queues_stay_bounded_when_one_stream_stops():
    sync, out = _sync(queue=4)
    for k in range(100):
        sync.add(0, k * 0.033, f'c{k}')
        sync.add(2, k * 0.033, f'i{k}')
    assert out == [] and max(sync.pending()) == 4
    assert sync.stats.dropped_overflow == 2 * 96
    sync.add(1, 99 * 0.033, 'd99')
    assert out[0][0] == ('c99', 'd99', 'i99')


def test_it_says_why_nothing_pairs():
    sync, out = _sync(slop=0.01, queue=3)
    for k in range(5):                # colour and camera_info only: depth held nothing
        sync.add(0, k * 0.1, f'c{k}')
        sync.add(2, k * 0.1, f'i{k}')
    assert out == [] and sync.stats.closest_spread is None and sync.pending()[1] == 0
    for k in range(5, 10):            # depth stamped 40 ms after its colour image
        sync.add(0, k * 0.1, f'c{k}')
        sync.add(2, k * 0.1, f'i{k}')
        sync.add(1, k * 0.1 + 0.04, f'd{k}')
    assert out == [] and sync.stats.closest_spread == pytest.approx(0.04)   # not the 60 ms to the next colour
    sync.add(1, 1.0, 'd10')
    sync.add(0, 1.0, 'c10')
    sync.add(2, 1.0, 'i10')
    assert [m for m, _ in out] == [('c10', 'd10', 'i10')] and sync.stats.closest_spread is None


def test_time_going_back_starts_afresh_and_a_late_message_does_not():
    sync, out = _sync(slop=0.01)
    for k in range(3):
        for stream in range(3):
            sync.add(stream, 100 + k * 0.1, f'{stream}:{k}')
    assert len(out) == 3
    sync.add(0, 100.15, 'late')                   # older than the last pair but no jump: stale
    assert sync.stats.dropped_stale == 1 and sync.stats.time_jumps == 0
    sync.add(0, 100.5, 'old run')                 # queued, then time goes back 100 s (a bag replayed in a loop)
    for stream in range(3):
        sync.add(stream, 0.2, f'{stream}:again')
    assert sync.stats.time_jumps == 1 and sync.stats.last_jump == pytest.approx(100.0)
    assert out[-1][0] == ('0:again', '1:again', '2:again') and sync.pending() == [0, 0, 0]
    assert 'old run' not in [m for msgs, _ in out for m in msgs]      # left with the old run's queues


def test_out_of_order_arrivals_are_counted_and_still_paired():
    sync, out = _sync()
    sync.add(0, 2.0, 'c2')
    sync.add(0, 1.0, 'c1')
    assert sync.stats.out_of_order == 1
    sync.add(1, 1.0, 'd1')
    sync.add(2, 1.0, 'i1')
    assert out[0][0] == ('c1', 'd1', 'i1')


def test_invalid_settings_are_rejected():
    with pytest.raises(ValueError):
        ApproximateTimeSync(2, 0.01, 5, print, jump_back=0.0)
    with pytest.raises(ValueError):
        ApproximateTimeSync(3, -1.0, 5, print)
