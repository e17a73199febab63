"""sensor_msgs <-> numpy conversions: property-based round trips over sizes, encodings and paddings."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sensor_msgs.msg import CameraInfo, Image

from seg_perception.ros.convert import (IMAGE_ENCODINGS, UnsupportedEncodingError, camera_info_to_model,
                                        color_image_to_rgb, compressed_to_image, depth_image_to_metres,
                                        image_to_numpy, make_header, numpy_to_image, numpy_to_pointcloud2,
                                        pointcloud2_to_numpy, stamp_to_sec)


def _random_image(rng, encoding, h, w):
    dtype, channels = IMAGE_ENCODINGS[encoding]
    shape = (h, w) if channels == 1 else (h, w, channels)
    if dtype is np.float32:
        return rng.standard_normal(shape).astype(np.float32)
    return rng.integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)


@settings(max_examples=60, deadline=None)
@given(encoding=st.sampled_from(sorted(IMAGE_ENCODINGS)), h=st.integers(1, 17), w=st.integers(1, 23),
       padding=st.integers(0, 9), seed=st.integers(0, 2**16))
def test_image_round_trip(encoding, h, w, padding, seed):
    array = _random_image(np.random.default_rng(seed), encoding, h, w)
    msg = numpy_to_image(array, encoding, row_padding=padding)
    assert msg.step == array.nbytes // h + padding
    back = image_to_numpy(msg)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


@settings(max_examples=30, deadline=None)
@given(encoding=st.sampled_from(['mono16', '16UC1', '32FC1']), h=st.integers(1, 9), w=st.integers(1, 9),
       padding=st.integers(0, 5), seed=st.integers(0, 2**16))
def test_big_endian_images_are_read(encoding, h, w, padding, seed):
    array = _random_image(np.random.default_rng(seed), encoding, h, w)
    big = array.astype(array.dtype.newbyteorder('>'))
    rows = np.concatenate([big.reshape(h, -1).view(np.uint8), np.zeros((h, padding), np.uint8)], axis=1)
    msg = Image(height=h, width=w, encoding=encoding, is_bigendian=1, step=rows.shape[1], data=rows.tobytes())
    np.testing.assert_array_equal(image_to_numpy(msg), array)


def test_color_encodings_give_rgb():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    np.testing.assert_array_equal(color_image_to_rgb(numpy_to_image(rgb, 'rgb8')), rgb)
    np.testing.assert_array_equal(color_image_to_rgb(numpy_to_image(rgb[:, :, ::-1].copy(), 'bgr8')), rgb)
    rgba = np.concatenate([rgb, np.full((2, 3, 1), 9, np.uint8)], axis=2)
    np.testing.assert_array_equal(color_image_to_rgb(numpy_to_image(rgba, 'rgba8')), rgb)
    bgra = np.concatenate([rgb[:, :, ::-1], np.full((2, 3, 1), 9, np.uint8)], axis=2)
    np.testing.assert_array_equal(color_image_to_rgb(numpy_to_image(bgra, 'bgra8')), rgb)
    mono = rgb[:, :, 0].copy()
    assert (color_image_to_rgb(numpy_to_image(mono, 'mono8')) == mono[:, :, None]).all()


def test_depth_encodings_give_metres():
    mm = np.array([[0, 1500]], np.uint16)
    np.testing.assert_allclose(depth_image_to_metres(numpy_to_image(mm, '16UC1')), [[0, 1.5]])
    m = np.array([[np.nan, 0.75]], np.float32)
    np.testing.assert_allclose(depth_image_to_metres(numpy_to_image(m, '32FC1')), [[0, 0.75]])


def test_unsupported_encodings_are_named():
    msg = Image(height=1, width=1, encoding='yuv422', step=2, data=b'\0\0')
    with pytest.raises(UnsupportedEncodingError, match="unsupported image encoding 'yuv422'.*rgb8"):
        image_to_numpy(msg)
    with pytest.raises(UnsupportedEncodingError, match="'16UC1'"):
        color_image_to_rgb(numpy_to_image(np.zeros((1, 1), np.uint16), '16UC1'))
    with pytest.raises(UnsupportedEncodingError, match="'rgb8'"):
        depth_image_to_metres(numpy_to_image(np.zeros((1, 1, 3), np.uint8), 'rgb8'))


def test_truncated_image_data_is_an_error():
    msg = numpy_to_image(np.zeros((4, 4, 3), np.uint8), 'rgb8')
    msg.data = bytes(msg.data)[:-1]
    with pytest.raises(ValueError, match='expected step\\*height = 48'):
        image_to_numpy(msg)


def test_camera_info_to_model():
    info = CameraInfo(width=640, height=480, k=[615.0, 0, 320.0, 0, 615.0, 240.0, 0, 0, 1],
                      d=[0.0] * 5, distortion_model='plumb_bob')
    cam = camera_info_to_model(info)
    assert (cam.fx, cam.cy, cam.width, cam.is_distorted) == (615.0, 240.0, 640, False)
    with pytest.raises(ValueError, match='uncalibrated'):
        camera_info_to_model(CameraInfo(width=640, height=480))


def test_camera_info_binning_and_roi_describe_the_smaller_images():
    """REP 104, as image_proc's crop_decimate publishes: K and the size are the sensor's, the images are the
    region of interest with every 2x2 block combined."""
    from sensor_msgs.msg import RegionOfInterest
    k = [615.0, 0, 320.0, 0, 616.0, 240.0, 0, 0, 1]
    info = CameraInfo(width=640, height=480, k=k, d=[0.1, 0, 0, 0, 0], distortion_model='plumb_bob',
                      binning_x=2, binning_y=2)
    cam = camera_info_to_model(info)
    assert (cam.width, cam.height, cam.fx, cam.fy, cam.cx, cam.cy) == (320, 240, 307.5, 308.0, 160.0, 120.0)
    assert cam.distortion == (0.1, 0, 0, 0, 0)       # distortion acts on normalised coordinates: unchanged
    info.roi = RegionOfInterest(x_offset=100, y_offset=40, width=400, height=300)
    cam = camera_info_to_model(info)
    assert (cam.width, cam.height, cam.cx, cam.cy) == (200, 150, 110.0, 100.0)
    # a pixel's ray is the same seen in the sensor's image and in the decimated crop
    full = camera_info_to_model(CameraInfo(width=640, height=480, k=k))
    u, v = 100 + 2 * 37.0, 40 + 2 * 81.0
    assert np.isclose((u - full.cx) / full.fx, (37.0 - cam.cx) / cam.fx)
    assert np.isclose((v - full.cy) / full.fy, (81.0 - cam.cy) / cam.fy)
    info.roi = RegionOfInterest(x_offset=400, y_offset=0, width=400, height=300)
    with pytest.raises(ValueError, match='roi .* does not lie within its 640x480 sensor'):
        camera_info_to_model(info)


_FIELD_TYPES = st.sampled_from([np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
                                np.float32, np.float64])


@settings(max_examples=40, deadline=None)
@given(types=st.lists(_FIELD_TYPES, min_size=1, max_size=6), n=st.integers(0, 40),
       padding=st.integers(0, 7), seed=st.integers(0, 2**16))
def test_pointcloud2_round_trip(types, n, padding, seed):
    rng = np.random.default_rng(seed)
    dtype = np.dtype([(f'f{i}', t) for i, t in enumerate(types)])
    cloud = np.zeros(n, dtype)
    for name, t in zip(dtype.names, types):
        info = np.iinfo(t) if np.issubdtype(t, np.integer) else None
        cloud[name] = rng.integers(info.min, info.max, n, endpoint=True) if info else rng.standard_normal(n)
    msg = numpy_to_pointcloud2(cloud, point_padding=padding)
    assert msg.point_step == dtype.itemsize + padding and msg.width == n and msg.height == 1
    back = pointcloud2_to_numpy(msg)
    assert back.dtype.names == dtype.names
    for name in dtype.names:
        np.testing.assert_array_equal(back[name], cloud[name])


def test_pointcloud2_organized_big_endian_with_row_padding():
    h, w = 2, 3
    dt = np.dtype([('x', '>f4'), ('y', '>f4'), ('z', '>f4'), ('instance', '>u2')])
    pts = np.zeros((h, w), dt)
    pts['x'] = np.arange(6).reshape(h, w)
    pts['instance'] = 7
    row_step = w * dt.itemsize + 4
    rows = np.concatenate([pts.view(np.uint8).reshape(h, -1), np.zeros((h, 4), np.uint8)], axis=1)
    src = numpy_to_pointcloud2(np.zeros(1, [('x', 'f4'), ('y', 'f4'), ('z', 'f4'), ('instance', 'u2')]))
    src.height, src.width, src.is_bigendian = h, w, True
    src.point_step, src.row_step, src.data = dt.itemsize, row_step, rows.tobytes()
    back = pointcloud2_to_numpy(src)
    np.testing.assert_array_equal(back['x'], np.arange(6))
    assert (back['instance'] == 7).all()


def test_header_stamp_round_trip():
    header = make_header(1700000000.25, 'cam')
    assert (header.stamp.sec, header.stamp.nanosec, header.frame_id) == (1700000000, 250000000, 'cam')
    assert stamp_to_sec(header.stamp) == pytest.approx(1700000000.25)


def compressed_message(array, fmt, header=None, quant=(0, 0.0, 0.0)):
    """A CompressedImage as image_transport writes one: ``fmt`` "rgb8; png compressed bgr8" encodes ``array``
    (already in the order inside) with the codec named; a compressedDepth format puts the 12-byte header first."""
    import struct

    import cv2
    from sensor_msgs.msg import CompressedImage
    codec = '.jpg' if 'jpeg' in fmt else '.png'
    ok, buf = cv2.imencode(codec, array)
    assert ok
    data = buf.tobytes()
    if 'compressedDepth' in fmt:
        data = struct.pack('<iff', *quant) + data
    return CompressedImage(header=header or make_header(1.5, 'cam'), format=fmt, data=data)


def test_compressed_images_decode_as_image_transport_wrote_them():
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    # colour: PNG exactly, in either channel order inside; JPEG approximately; the header kept
    for fmt, inside in (('rgb8; png compressed bgr8', rgb[..., ::-1]), ('rgb8; png compressed rgb8', rgb),
                        ('png', rgb[..., ::-1])):
        image = compressed_to_image(compressed_message(np.ascontiguousarray(inside), fmt))
        np.testing.assert_array_equal(color_image_to_rgb(image), rgb)
        assert (image.header.frame_id, stamp_to_sec(image.header.stamp)) == ('cam', 1.5)
    smooth = np.tile(np.linspace(0, 250, 40, dtype=np.uint8)[None, :, None], (30, 1, 3))
    jpeg = color_image_to_rgb(compressed_to_image(compressed_message(smooth, 'rgb8; jpeg compressed bgr8')))
    assert jpeg.shape == (30, 40, 3) and np.abs(jpeg.astype(int) - smooth).max() <= 8
    # depth, millimetres: exact, 0 stays missing
    mm = rng.integers(300, 3000, (30, 40), dtype=np.uint16)
    mm[:5] = 0
    for fmt in ('16UC1; compressedDepth png', '16UC1; compressedDepth'):
        metres = depth_image_to_metres(compressed_to_image(compressed_message(mm, fmt)))
        np.testing.assert_allclose(metres, mm * 0.001, atol=1e-7)
    # depth in metres, as quantised inverse depth (value = A / depth + B; the plugin's defaults A 100, max 10 m)
    depth = rng.uniform(0.3, 3.0, (30, 40)).astype(np.float32)
    quant_a, quant_b = 100.0, 1 - 100.0 / 10.0
    value = np.round(quant_a / depth + quant_b).astype(np.uint16)
    value[:5] = 0
    metres = depth_image_to_metres(compressed_to_image(compressed_message(
        value, '32FC1; compressedDepth png', quant=(0, quant_a, quant_b))))
    assert np.all(np.isnan(metres[:5]) | (metres[:5] == 0))
    np.testing.assert_allclose(metres[5:], depth[5:], rtol=0.02)      # quantisation: 1 in A / depth
    with pytest.raises(ValueError, match='RVL codec'):
        compressed_to_image(compressed_message(mm, '16UC1; compressedDepth rvl'))
    with pytest.raises(ValueError, match='no 16-bit PNG'):
        compressed_to_image(compressed_message(rgb, '16UC1; compressedDepth png'))
