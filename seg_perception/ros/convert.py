"""sensor_msgs <-> numpy, without cv_bridge (not available as wheels, and the PyPI look-alikes are broken).

Images: rgb8, bgr8, rgba8, bgra8, mono8, mono16, 16UC1, 32FC1 with row padding (``step``) and either byte
order; CompressedImage as image_transport's ``compressed`` and ``compressedDepth`` plugins write it (recordings).
PointCloud2: numpy structured arrays with any field layout and padding.
"""
from __future__ import annotations

import struct
import sys

import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2, PointField

from ..geometry import binned_camera, camera_from_K, depth_to_metres
from ..types import CameraModel

# encoding -> (dtype, channels)
IMAGE_ENCODINGS = {
    'rgb8': (np.uint8, 3),
    'bgr8': (np.uint8, 3),
    'rgba8': (np.uint8, 4),
    'bgra8': (np.uint8, 4),
    'mono8': (np.uint8, 1),
    'mono16': (np.uint16, 1),
    '16UC1': (np.uint16, 1),
    '32FC1': (np.float32, 1),
}
COLOR_ENCODINGS = ('rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8')
DEPTH_ENCODINGS = ('16UC1', 'mono16', '32FC1')

_LITTLE = sys.byteorder == 'little'


class UnsupportedEncodingError(ValueError):
    """An image encoding this package does not read or write."""


def _encoding_layout(encoding: str, allowed=tuple(IMAGE_ENCODINGS)):
    if encoding not in allowed:
        raise UnsupportedEncodingError(
            f"unsupported image encoding '{encoding}'; supported: {', '.join(allowed)}")
    return IMAGE_ENCODINGS[encoding]


def image_to_numpy(msg: Image) -> np.ndarray:
    """(H, W) or (H, W, C) array in native byte order; a copy that owns its memory."""
    dtype, channels = _encoding_layout(msg.encoding)
    dt = np.dtype(dtype).newbyteorder('>' if msg.is_bigendian else '<')
    row_bytes = msg.width * channels * dt.itemsize
    if msg.step < row_bytes:
        raise ValueError(f'Image step {msg.step} is smaller than width*channels*bytes = {row_bytes} '
                         f'({msg.width}x{msg.height} {msg.encoding})')
    buf = np.frombuffer(msg.data, dtype=np.uint8)
    if buf.size < msg.step * msg.height:
        raise ValueError(f'Image data has {buf.size} bytes, expected step*height = {msg.step * msg.height} '
                         f'({msg.width}x{msg.height} {msg.encoding})')
    rows = buf[:msg.step * msg.height].reshape(msg.height, msg.step)[:, :row_bytes]
    array = np.ascontiguousarray(rows).view(dt).reshape(msg.height, msg.width, channels)
    array = array.astype(np.dtype(dtype), copy=True)
    return array[:, :, 0] if channels == 1 else array


def numpy_to_image(array: np.ndarray, encoding: str, header=None, row_padding: int = 0) -> Image:
    """Image message from an array whose dtype and channel count match ``encoding``.
    ``row_padding`` appends that many zero bytes to every row (``step`` grows accordingly)."""
    dtype, channels = _encoding_layout(encoding)
    array = np.asarray(array)
    shape_ok = array.ndim == 2 and channels == 1 or array.ndim == 3 and array.shape[2] == channels
    if not shape_ok or array.dtype != np.dtype(dtype):
        raise ValueError(f"array of shape {array.shape} and dtype {array.dtype} does not match encoding "
                         f"'{encoding}' ({channels} channel(s) of {np.dtype(dtype).name})")
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = int(array.shape[0]), int(array.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0 if _LITTLE else 1
    rows = np.ascontiguousarray(array).reshape(msg.height, -1).view(np.uint8)
    if row_padding:
        rows = np.concatenate([rows, np.zeros((msg.height, row_padding), np.uint8)], axis=1)
    msg.step = int(rows.shape[1])
    msg.data = rows.tobytes()
    return msg


def to_rgb(array: np.ndarray, encoding: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB from a colour image in one of COLOR_ENCODINGS."""
    _encoding_layout(encoding, COLOR_ENCODINGS)
    if encoding == 'rgb8':
        return array
    if encoding == 'mono8':
        return np.repeat(array[:, :, None], 3, axis=2)
    if encoding == 'rgba8':
        return np.ascontiguousarray(array[:, :, :3])
    return np.ascontiguousarray(array[:, :, 2::-1])  # bgr8 / bgra8


def color_image_to_rgb(msg: Image) -> np.ndarray:
    _encoding_layout(msg.encoding, COLOR_ENCODINGS)
    return to_rgb(image_to_numpy(msg), msg.encoding)


def depth_image_to_metres(msg: Image, min_depth: float = 0.0, max_depth: float = float('inf')) -> np.ndarray:
    """float32 metres, 0 = invalid (REP 118: 16UC1/mono16 in millimetres, 32FC1 in metres)."""
    _encoding_layout(msg.encoding, DEPTH_ENCODINGS)
    return depth_to_metres(image_to_numpy(msg), min_depth=min_depth, max_depth=max_depth)


_DEPTH_HEADER = 12   # compressedDepth: int32 format, float32 depthQuantA, depthQuantB, then the PNG


def compressed_to_image(msg: CompressedImage) -> Image:
    """The Image a CompressedImage holds, with the same header. ``format`` as image_transport writes it:
    "rgb8; jpeg compressed bgr8" (the encoding published, the codec, the channel order inside it; a bare "jpeg"
    or "png" means bgr8) or "16UC1; compressedDepth png" / "32FC1; compressedDepth" (a 12-byte header, then a
    16-bit PNG: millimetres, or for 32FC1 quantised inverse depth, depth = A / (value - B), 0 = missing)."""
    import cv2
    parts = [p.strip() for p in msg.format.split(';')]
    codec = parts[1].lower() if len(parts) > 1 else parts[0].lower()
    data = np.frombuffer(bytes(msg.data), np.uint8)
    if 'compresseddepth' in codec:
        if 'rvl' in codec:
            raise ValueError(f"compressed depth '{msg.format}': the RVL codec is not read here; republish the "
                             'topic raw (image_transport republish) or record it with the png codec')
        png = cv2.imdecode(data[_DEPTH_HEADER:], cv2.IMREAD_UNCHANGED) if data.size > _DEPTH_HEADER else None
        if png is None or png.dtype != np.uint16 or png.ndim != 2:
            raise ValueError(f"compressed depth '{msg.format}' holds no 16-bit PNG")
        if parts[0] == '32FC1':
            _, quant_a, quant_b = struct.unpack('<iff', bytes(data[:_DEPTH_HEADER]))
            value = png.astype(np.float32)
            with np.errstate(divide='ignore'):
                depth = np.where(png > 0, quant_a / (value - quant_b), np.nan).astype(np.float32)
            return numpy_to_image(depth, '32FC1', msg.header)
        return numpy_to_image(png, '16UC1', msg.header)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"compressed image '{msg.format}' could not be decoded")
    if image.ndim == 2:
        published = parts[0] if len(parts) > 1 else ''
        if image.dtype == np.uint16:
            return numpy_to_image(image, '16UC1' if published == '16UC1' else 'mono16', msg.header)
        return numpy_to_image(image, 'mono8', msg.header)
    inside = codec.split('compressed')[-1].strip() if 'compressed' in codec else 'bgr8'
    if image.shape[2] == 4:
        return numpy_to_image(image, 'rgba8' if inside == 'rgba8' else 'bgra8', msg.header)
    return numpy_to_image(image, 'rgb8' if inside == 'rgb8' else 'bgr8', msg.header)


def camera_info_to_model(msg: CameraInfo) -> CameraModel:
    K = np.asarray(msg.k, dtype=float)
    if K.size != 9 or not np.any(K):
        raise ValueError('camera_info is uncalibrated: K is all zeros')
    if msg.width == 0 or msg.height == 0:
        raise ValueError('camera_info has zero width or height')
    # binning and a region of interest (image_proc's crop_decimate) make the images smaller than the sensor
    roi = msg.roi
    return binned_camera(camera_from_K(K, msg.width, msg.height, list(msg.d), msg.distortion_model),
                         msg.binning_x, msg.binning_y, (roi.x_offset, roi.y_offset, roi.width, roi.height))


# ---------------------------------------------------------------------------------------------
# PointCloud2

_POINTFIELD_TO_NUMPY = {
    PointField.INT8: np.int8, PointField.UINT8: np.uint8,
    PointField.INT16: np.int16, PointField.UINT16: np.uint16,
    PointField.INT32: np.int32, PointField.UINT32: np.uint32,
    PointField.FLOAT32: np.float32, PointField.FLOAT64: np.float64,
}
_NUMPY_TO_POINTFIELD = {np.dtype(v): k for k, v in _POINTFIELD_TO_NUMPY.items()}


def numpy_to_pointcloud2(points: np.ndarray, header=None, point_padding: int = 0) -> PointCloud2:
    """Unorganized cloud (height 1) from a 1-D structured array; fields keep their names and order."""
    points = np.asarray(points)
    if points.dtype.names is None:
        raise ValueError('numpy_to_pointcloud2 needs a structured array (fields such as x, y, z)')
    points = points.reshape(-1)
    fields, offset, formats, offsets = [], 0, [], []
    for name in points.dtype.names:
        dt = points.dtype.fields[name][0]
        count = 1
        if dt.subdtype is not None:
            dt, shape = dt.subdtype
            count = int(np.prod(shape))
        base = dt.newbyteorder('=')
        if base not in _NUMPY_TO_POINTFIELD:
            raise ValueError(f'field {name!r} has dtype {dt} which PointCloud2 cannot carry')
        fields.append(PointField(name=name, offset=offset, datatype=_NUMPY_TO_POINTFIELD[base], count=count))
        formats.append((base, (count,)) if count > 1 else base)
        offsets.append(offset)
        offset += base.itemsize * count
    packed_dtype = np.dtype({'names': list(points.dtype.names), 'formats': formats, 'offsets': offsets,
                             'itemsize': offset + point_padding})
    packed = np.zeros(points.shape[0], dtype=packed_dtype)
    for name in points.dtype.names:
        packed[name] = points[name]
    msg = PointCloud2()
    if header is not None:
        msg.header = header
    msg.height, msg.width = 1, int(points.shape[0])
    msg.fields = fields
    msg.is_bigendian = not _LITTLE
    msg.point_step = packed_dtype.itemsize
    msg.row_step = msg.point_step * msg.width
    msg.data = packed.tobytes()
    msg.is_dense = bool(all(np.isfinite(points[n]).all() for n in points.dtype.names
                            if np.issubdtype(points.dtype.fields[n][0].base, np.floating)))
    return msg


def pointcloud2_to_numpy(msg: PointCloud2) -> np.ndarray:
    """1-D structured array (height*width points, row-major) in native byte order."""
    order = '>' if msg.is_bigendian else '<'
    names, formats, offsets = [], [], []
    for f in msg.fields:
        if f.datatype not in _POINTFIELD_TO_NUMPY:
            raise ValueError(f'PointCloud2 field {f.name!r} has unknown datatype {f.datatype}')
        dt = np.dtype(_POINTFIELD_TO_NUMPY[f.datatype]).newbyteorder(order)
        names.append(f.name)
        formats.append((dt, (f.count,)) if f.count > 1 else dt)
        offsets.append(f.offset)
    wire = np.dtype({'names': names, 'formats': formats, 'offsets': offsets, 'itemsize': msg.point_step})
    n = msg.width * msg.height
    buf = np.frombuffer(msg.data, dtype=np.uint8)
    if msg.row_step < msg.width * msg.point_step or buf.size < msg.row_step * msg.height:
        raise ValueError(f'PointCloud2 data has {buf.size} bytes, too few for {msg.height} rows of '
                         f'row_step {msg.row_step} ({msg.width} points of {msg.point_step} bytes)')
    rows = buf[:msg.row_step * msg.height].reshape(msg.height, msg.row_step)[:, :msg.width * msg.point_step]
    wire_points = np.ascontiguousarray(rows).reshape(-1).view(wire).reshape(n)
    native = np.dtype([(nm, (np.dtype(_POINTFIELD_TO_NUMPY[f.datatype]), (f.count,)) if f.count > 1
                        else np.dtype(_POINTFIELD_TO_NUMPY[f.datatype])) for nm, f in zip(names, msg.fields)])
    out = np.empty(n, dtype=native)
    for nm in names:
        out[nm] = wire_points[nm]
    return out


def make_header(stamp_sec: float, frame_id: str):
    """std_msgs/Header from seconds since the epoch."""
    from std_msgs.msg import Header
    header = Header()
    header.frame_id = frame_id
    sec = int(np.floor(stamp_sec))
    header.stamp.sec = sec
    header.stamp.nanosec = int(round((stamp_sec - sec) * 1e9)) % 1_000_000_000
    return header


def stamp_to_sec(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9

