"""Scene files: the trained-3DGS ``.ply``, antimatter15's ``.splat`` and 3DGS's ``cameras.json``.

``.ply`` (as written by the 3DGS reference code): one ``vertex`` element with float properties
``x y z nx ny nz f_dc_0..2 f_rest_0..M-1 opacity scale_0..2 rot_0..3``. ``f_rest`` is channel-major:
``f_rest[c * (K - 1) + (k - 1)]`` is band coefficient k of channel c, K = (d + 1)², so M = 3 (K - 1) gives the
SH degree d (M in 0, 9, 24, 45). Opacity is a logit, scales are logs, the quaternion is w-first.

``.splat``: 32 bytes per splat, little-endian: position 3 x f32, scale 3 x f32 (linear), colour RGBA 4 x u8
(RGB = (0.5 + C0 f_dc) * 255, A = sigmoid(opacity) * 255), rotation 4 x u8 (q / |q| * 128 + 128, w-first).
DC colour only; the format carries no higher SH bands.

Every reader opens regular files only (:func:`engines.inputs.regular_file`), checks every value *after* converting it
to the type the scene stores (float32: a ``property double x`` of 1e300 or an ASCII ``1e39`` is infinity there and
refused), reads the structure it does not use correctly (elements declared before ``vertex`` are skipped by their
size, record by record where they hold lists), and raises :class:`SceneFileError` naming the file, the header line
or the record, and what was expected. Limits (refused beyond): MAX_SPLATS splats; coordinates within ±COORD_LIMIT;
log-scales within ±LOG_SCALE_LIMIT (their squares stay finite in float32 through the projection); SH coefficients
within ±SH_LIMIT; rotation quaternions with a norm in QUAT_NORM (a near-zero one has no direction: its
covariance would be NaN).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from engines.inputs import InputError, json_load, read_bytes, where

from .camera import Camera
from .scene import SH_C0, Scene, sh_degree_for, up_from_cameras

_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4", "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}
PLY_FORMATS = ("binary_little_endian", "binary_big_endian", "ascii")
MAX_SPLATS = 6_000_000  # a large trained scene holds 1–6 M; more does not fit a 24 GB machine's render buffers
COORD_LIMIT = 1e12  # positions; their squares stay finite in float32
LOG_SCALE_LIMIT = 30.0  # scales within e^±30
SH_LIMIT = 1e6
QUAT_NORM = (1e-6, 1e6)
MAX_HEADER_BYTES = 1 << 20
MAX_LIST_RECORDS = 1_000_000  # records of an element with list properties declared before vertex (read one by one)
MAX_CAMERAS = 100_000
MAX_CAMERA_PX = 16384
MAX_FOCAL_PX = 1e7


class SceneFileError(InputError):
    """A malformed scene or cameras file; the message names the file, the line or record, and what is wrong."""


def cameras_beside(path: str | Path) -> Path | None:
    """The ``cameras.json`` that belongs to a scene file: in its folder, or at the root of 3DGS's output layout
    (``<model>/point_cloud/iteration_N/point_cloud.ply`` beside ``<model>/cameras.json``); None if there is none."""
    p = Path(path)
    candidates = [p.parent / "cameras.json"]
    if p.parent.parent.name == "point_cloud":
        candidates.append(p.parent.parent.parent / "cameras.json")
    return next((c for c in candidates if c.is_file()), None)


def load_scene(path: str | Path) -> Scene:
    """Read a ``.ply`` or ``.splat`` file by its extension, with the cameras of a ``cameras.json`` beside it (if any)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".ply":
        scene = read_ply(p)
    elif suffix == ".splat":
        scene = read_splat(p)
    else:
        raise SceneFileError(f"{p}: unknown extension {suffix!r} (allowed: .ply, .splat)")
    scene.source = str(p)
    cams = cameras_beside(p)
    if cams is not None:
        scene.cameras = read_cameras_json(cams)
        scene.cameras_source = str(cams)
        scene.up = up_from_cameras(scene.cameras)
    return scene


# ---- .ply --------------------------------------------------------------------------------------------
class _Element:
    """One ``element`` of a PLY header: its name, record count, properties (name, numpy type) or (name, (count type, item
    type)) for lists, and the header line that declared it."""

    def __init__(self, name: str, count: int, line: int):
        self.name, self.count, self.line = name, count, line
        self.props: list[tuple[str, str | tuple[str, str]]] = []

    @property
    def has_lists(self) -> bool:
        return any(isinstance(t, tuple) for _, t in self.props)

    def dtype(self, endian: str) -> np.dtype:
        return np.dtype([(k, endian + t) for k, t in self.props])


def _ply_header(raw: bytes, path: Path) -> tuple[str, list[_Element], int]:
    """Format, elements in declaration order, and the byte offset of the body."""
    if not raw.startswith(b"ply"):
        raise SceneFileError(f"{path}: not a PLY file (no 'ply' magic)")
    fmt, elements, pos, lineno = None, [], 0, 0
    while True:
        nl = raw.find(b"\n", pos, MAX_HEADER_BYTES)
        if nl < 0:
            raise SceneFileError(f"{path}: PLY header has no end_header line"
                                 + (f" within its first {MAX_HEADER_BYTES:,} bytes" if len(raw) > MAX_HEADER_BYTES else ""))
        lineno += 1
        at = where(path, lineno)
        try:
            line = raw[pos:nl].rstrip(b"\r").decode("ascii")
        except UnicodeDecodeError:
            raise SceneFileError(f"{at}: the PLY header holds a byte that is not ASCII") from None
        pos = nl + 1
        parts = line.split()
        if lineno == 1:
            if parts != ["ply"]:
                raise SceneFileError(f"{at}: not a PLY file (expected the line 'ply', found {line[:40]!r})")
            continue
        if not parts or parts[0] in ("comment", "obj_info"):
            continue
        kw = parts[0]
        if kw == "format":
            if len(parts) != 3 or parts[1] not in PLY_FORMATS:
                raise SceneFileError(f"{at}: unsupported PLY format {' '.join(parts[1:])[:60]!r} (allowed: {', '.join(PLY_FORMATS)} "
                                     "with a version)")
            fmt = parts[1]
        elif kw == "element":
            if len(parts) != 3:
                raise SceneFileError(f"{at}: expected 'element NAME COUNT', found {line[:60]!r}")
            if any(e.name == parts[1] for e in elements):
                raise SceneFileError(f"{at}: element {parts[1]!r} declared twice")
            count = parts[2]
            if not count.isdigit():
                raise SceneFileError(f"{at}: element {parts[1]!r}: count {count[:20]!r} is not a non-negative integer")
            elements.append(_Element(parts[1], int(count), lineno))
        elif kw == "property":
            if not elements:
                raise SceneFileError(f"{at}: a property before any element")
            el = elements[-1]
            if len(parts) >= 2 and parts[1] == "list":
                if len(parts) != 5 or parts[2] not in _PLY_TYPES or parts[3] not in _PLY_TYPES or _PLY_TYPES[parts[2]][0] == "f":
                    raise SceneFileError(f"{at}: expected 'property list COUNT_TYPE ITEM_TYPE NAME' with an integer count type, "
                                         f"found {line[:60]!r}")
                prop = (parts[4], (_PLY_TYPES[parts[2]], _PLY_TYPES[parts[3]]))
            else:
                if len(parts) != 3 or parts[1] not in _PLY_TYPES:
                    raise SceneFileError(f"{at}: expected 'property TYPE NAME' (TYPE one of {', '.join(_PLY_TYPES)}), "
                                         f"found {line[:60]!r}")
                prop = (parts[2], _PLY_TYPES[parts[1]])
            if any(k == prop[0] for k, _ in el.props):
                raise SceneFileError(f"{at}: element {el.name!r} has property {prop[0]!r} twice")
            el.props.append(prop)
        elif kw == "end_header":
            break
        else:
            raise SceneFileError(f"{at}: unknown PLY header line {line[:60]!r} (expected format, element, property, comment "
                                 "or end_header)")
    if fmt is None:
        raise SceneFileError(f"{path}: PLY header has no format line")
    return fmt, elements, pos


def _skip_binary(raw: bytes, offset: int, el: _Element, endian: str, path: Path) -> int:
    """The offset just after ``el``'s records (elements before ``vertex`` are skipped by their size)."""
    left = len(raw) - offset
    if not el.has_lists:
        size = el.count * el.dtype(endian).itemsize
        if size > left:
            raise SceneFileError(f"{path}: truncated body: element {el.name!r} needs {size:,} bytes, {left:,} are left")
        return offset + size
    if el.count > MAX_LIST_RECORDS or el.count > left:
        raise SceneFileError(f"{path}: element {el.name!r} before vertex has {el.count:,} records with lists "
                             f"(at most {min(MAX_LIST_RECORDS, left):,} can be read here)")
    for i in range(el.count):
        for _, t in el.props:
            if isinstance(t, tuple):
                ct = np.dtype(endian + t[0])
                if offset + ct.itemsize > len(raw):
                    raise SceneFileError(f"{path}: truncated body in record {i} of element {el.name!r}")
                n = int(np.frombuffer(raw, ct, 1, offset)[0])
                if n < 0:
                    raise SceneFileError(f"{path}: record {i} of element {el.name!r}: negative list length {n}")
                offset += ct.itemsize + n * np.dtype(t[1]).itemsize
            else:
                offset += np.dtype(t).itemsize
            if offset > len(raw):
                raise SceneFileError(f"{path}: truncated body in record {i} of element {el.name!r}")
    return offset


def _ascii_vertices(raw: bytes, body_at: int, elements: list[_Element], vertex: _Element, header_lines: int, path: Path):
    """The vertex records of an ASCII body (one record per line; elements before vertex skipped line by line) as
    float64 columns, each checked as its declared type; returns (columns, line number of each vertex)."""
    try:
        text = raw[body_at:].decode("ascii")
    except UnicodeDecodeError as err:
        line = header_lines + raw[body_at:body_at + err.start].count(b"\n") + 1
        raise SceneFileError(f"{where(path, line)}: the ASCII body holds a byte that is not ASCII") from None
    lines = [(header_lines + i + 1, ln) for i, ln in enumerate(text.split("\n")) if ln.strip()]
    before = sum(e.count for e in elements[: elements.index(vertex)])
    n, k = vertex.count, len(vertex.props)
    if len(lines) < before + n:
        raise SceneFileError(f"{path}: truncated body: {len(lines)} records for {before:,} before vertex and {n:,} vertices")
    rows = lines[before:before + n]
    tokens = []
    for i, (ln, line) in enumerate(rows):
        t = line.split()
        if len(t) != k:
            names = " ".join(name for name, _ in vertex.props)
            raise SceneFileError(f"{where(path, ln)}: vertex {i} has {len(t)} values, expected {k} ({names[:80]})")
        tokens.extend(t)
    try:
        flat = np.asarray(tokens, dtype=np.float64).reshape(n, k)
    except ValueError:
        j = next(j for j, t in enumerate(tokens) if not _is_number(t))
        raise SceneFileError(f"{where(path, rows[j // k][0])}: vertex {j // k}: {vertex.props[j % k][0]} = {tokens[j][:30]!r} "
                             "is not a number") from None
    for c, (name, t) in enumerate(vertex.props):
        if t[0] in "iu":  # an integer property: a whole number within its type
            col, info = flat[:, c], np.iinfo(t)
            bad = ~((col == np.floor(col)) & (col >= info.min) & (col <= info.max))
            if bad.any():
                i = int(np.argmax(bad))
                raise SceneFileError(f"{where(path, rows[i][0])}: vertex {i}: {name} = {col[i]!r} is not a {np.dtype(t).name} "
                                     f"(allowed: whole numbers {info.min}..{info.max})")
    return {name: flat[:, c] for c, (name, _) in enumerate(vertex.props)}, [ln for ln, _ in rows]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _checked(path: Path, record, label: str, values: np.ndarray, limit: float | None) -> np.ndarray:
    """``values`` (n, k) as float32, refused when a value is not finite there or beyond ±limit; ``record(i)`` names vertex i."""
    with np.errstate(over="ignore", invalid="ignore"):
        v = np.asarray(values).astype(np.float32)
    flat = v.reshape(len(v), -1)
    bad = ~np.isfinite(flat)
    if limit is not None:
        bad |= np.abs(flat) > limit
    rows = bad.any(axis=1)
    if rows.any():
        i = int(np.argmax(rows))
        x = float(flat[i][bad[i]][0])
        what = "not finite (NaN or infinite) in float32" if not math.isfinite(x) else f"beyond ±{limit:g}"
        raise SceneFileError(f"{record(i)}: {label} {x!r} is {what} ({int(rows.sum()):,} such records; expected finite values"
                             + (f" within ±{limit:g})" if limit is not None else ")"))
    return v


def read_ply(path: str | Path) -> Scene:
    """Read a trained-3DGS ``.ply`` (binary or ASCII); malformed structure and values are refused (see the module docstring)."""
    p = Path(path)
    raw = read_bytes(p, SceneFileError)
    fmt, elements, body_at = _ply_header(raw, p)
    vertex = next((e for e in elements if e.name == "vertex"), None)
    if vertex is None:
        raise SceneFileError(f"{p}: PLY has no vertex element")
    n = vertex.count
    if n == 0:
        raise SceneFileError(f"{where(p, vertex.line)}: no vertices")
    if n > MAX_SPLATS:
        raise SceneFileError(f"{where(p, vertex.line)}: {n:,} vertices, more than the {MAX_SPLATS:,} this reader accepts")
    if vertex.has_lists:
        name = next(k for k, t in vertex.props if isinstance(t, tuple))
        raise SceneFileError(f"{p}: list property {name!r} in the vertex element is not supported")
    names = [k for k, _ in vertex.props]
    need = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    missing = [k for k in need if k not in names]
    if missing:
        raise SceneFileError(f"{p}: missing vertex properties {', '.join(missing)}")
    rest = sorted((k for k in names if k.startswith("f_rest_")), key=lambda k: int(k[7:]) if k[7:].isdigit() else -1)
    if rest != [f"f_rest_{i}" for i in range(len(rest))]:
        raise SceneFileError(f"{p}: f_rest properties are not numbered 0..{len(rest) - 1}")
    if len(rest) % 3 or len(rest) // 3 + 1 not in (1, 4, 9, 16):
        raise SceneFileError(f"{p}: {len(rest)} f_rest properties is not 3((d+1)^2 - 1) for an SH degree d in 0..3 "
                             "(allowed: 0, 9, 24, 45)")
    if fmt == "ascii":
        header_lines = raw[:body_at].count(b"\n")
        cols, line_of = _ascii_vertices(raw, body_at, elements, vertex, header_lines, p)

        def record(i):
            return f"{where(p, line_of[i])}: vertex {i}"
    else:
        endian = "<" if fmt == "binary_little_endian" else ">"
        offset = body_at
        for el in elements[: elements.index(vertex)]:
            offset = _skip_binary(raw, offset, el, endian, p)
        dtype = vertex.dtype(endian)
        have = len(raw) - offset
        if have < n * dtype.itemsize:
            raise SceneFileError(f"{p}: truncated body: {have:,} bytes for {n:,} vertices of {dtype.itemsize} bytes "
                                 f"({n * dtype.itemsize:,} needed)")
        arr = np.frombuffer(raw, dtype=dtype, count=n, offset=offset)
        cols = {k: arr[k] for k in names}

        def record(i):
            return f"{p}: vertex {i}"

    def stack(keys, label, limit=None):
        return _checked(p, record, label, np.stack([cols[k] for k in keys], axis=1), limit)

    means = stack(["x", "y", "z"], "position", COORD_LIMIT)
    K = len(rest) // 3 + 1
    sh = np.zeros((n, K, 3), np.float32)
    sh[:, 0, :] = stack(["f_dc_0", "f_dc_1", "f_dc_2"], "SH coefficient (f_dc)", SH_LIMIT)
    if K > 1:
        sh[:, 1:, :] = stack(rest, "SH coefficient (f_rest)", SH_LIMIT).reshape(n, 3, K - 1).transpose(0, 2, 1)  # channel-major
    opacity = stack(["opacity"], "opacity logit")[:, 0]
    log_scales = stack(["scale_0", "scale_1", "scale_2"], "log-scale", LOG_SCALE_LIMIT)
    quats = stack(["rot_0", "rot_1", "rot_2", "rot_3"], "rotation component")
    normals = stack(["nx", "ny", "nz"], "normal") if all(k in names for k in ("nx", "ny", "nz")) else np.zeros((n, 3), np.float32)
    _check_quaternions(quats, record)
    return Scene(means, sh, opacity, log_scales, quats, normals=normals, name=p.stem)


def _check_quaternions(quats: np.ndarray, record) -> None:
    qn = np.linalg.norm(quats.astype(np.float64), axis=1)
    bad = (qn < QUAT_NORM[0]) | (qn > QUAT_NORM[1])
    if bad.any():
        i = int(np.argmax(bad))
        raise SceneFileError(f"{record(i)}: rotation quaternion of norm {qn[i]:.3g} ({int(bad.sum()):,} such; allowed: a norm in "
                             f"[{QUAT_NORM[0]:g}, {QUAT_NORM[1]:g}], a direction to normalise)")


def write_ply(scene: Scene, path: str | Path) -> Path:
    """Write ``scene`` as a binary little-endian trained-3DGS ``.ply`` (float32 properties)."""
    p = Path(path)
    n, K = scene.n, scene.sh.shape[1]
    names = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"] + [f"f_rest_{i}" for i in range(3 * (K - 1))]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    normals = scene.normals if scene.normals is not None else np.zeros((n, 3), np.float32)
    rest = scene.sh[:, 1:, :].transpose(0, 2, 1).reshape(n, -1)  # channel-major
    data = np.concatenate([scene.means, normals, scene.sh[:, 0, :], rest, scene.opacity_logit[:, None], scene.log_scales, scene.quats],
                          axis=1).astype("<f4")
    header = "ply\nformat binary_little_endian 1.0\n" + f"element vertex {n}\n" + "".join(f"property float {k}\n" for k in names)
    header += "end_header\n"
    with open(p, "wb") as f:
        f.write(header.encode("ascii"))
        f.write(np.ascontiguousarray(data).tobytes())
    return p


# ---- .splat ------------------------------------------------------------------------------------------
_SPLAT = np.dtype([("pos", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rot", "u1", 4)])


def read_splat(path: str | Path) -> Scene:
    """Read antimatter15's ``.splat``; a partial record, non-finite or out-of-range positions and scales are refused."""
    p = Path(path)
    raw = read_bytes(p, SceneFileError)
    if len(raw) == 0:
        raise SceneFileError(f"{p}: empty .splat file")
    if len(raw) % 32:
        raise SceneFileError(f"{p}: {len(raw):,} bytes is not a whole number of 32-byte splats (truncated?)")
    n = len(raw) // 32
    if n > MAX_SPLATS:
        raise SceneFileError(f"{p}: {n:,} splats, more than the {MAX_SPLATS:,} this reader accepts")
    a = np.frombuffer(raw, dtype=_SPLAT)

    def record(i):
        return f"{p}: splat {i} (byte {32 * i:,})"

    pos = _checked(p, record, "position", a["pos"], COORD_LIMIT)
    scale = _checked(p, record, "scale", a["scale"], None)
    lo, hi = math.exp(-LOG_SCALE_LIMIT), math.exp(LOG_SCALE_LIMIT)
    bad = ((scale < lo) | (scale > hi)).any(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise SceneFileError(f"{record(i)}: scale {scale[i].tolist()} outside [{lo:.3g}, {hi:.3g}] ({int(bad.sum()):,} such splats; "
                             "expected positive scales)")
    rgba = a["rgba"].astype(np.float64) / 255.0
    q = (a["rot"].astype(np.float64) - 128.0) / 128.0
    qn = np.linalg.norm(q, axis=1, keepdims=True)
    q = np.where(qn > 0, q / np.maximum(qn, 1e-12), [1.0, 0.0, 0.0, 0.0])  # all bytes 128: no rotation stored, the identity
    sh = np.zeros((n, 1, 3))
    sh[:, 0, :] = (rgba[:, :3] - 0.5) / SH_C0
    alpha = np.clip(rgba[:, 3], 0.5 / 255, 1 - 0.5 / 255)
    f32 = np.float32
    return Scene(pos, sh.astype(f32), np.log(alpha / (1 - alpha)).astype(f32), np.log(scale.astype(np.float64)).astype(f32),
                 q.astype(f32), normals=np.zeros((n, 3), f32), name=p.stem)


def write_splat(scene: Scene, path: str | Path, sort_by_importance: bool = True) -> Path:
    """Write the antimatter15 ``.splat`` (DC colour only); ordered by size x opacity as antimatter15's converter does."""
    p = Path(path)
    n = scene.n
    a = np.zeros(n, dtype=_SPLAT)
    a["pos"] = scene.means
    a["scale"] = scene.scales
    rgb = np.clip((0.5 + SH_C0 * scene.sh[:, 0, :].astype(np.float64)) * 255, 0, 255)
    a["rgba"][:, :3] = np.round(rgb)
    a["rgba"][:, 3] = np.round(np.clip(scene.opacity * 255, 0, 255))
    a["rot"] = np.round(np.clip(scene.rotations * 128 + 128, 0, 255))
    if sort_by_importance:
        a = a[np.argsort(-np.prod(scene.scales, axis=1) * scene.opacity, kind="stable")]
    p.write_bytes(a.tobytes())
    return p


# ---- cameras.json ------------------------------------------------------------------------------------
def _json_number(value, what: str, lo: float | None = None, hi: float | None = None, integer: bool = False) -> float:
    """A JSON number (not a bool, not a string) that is finite and within [lo, hi]; an integer if asked."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SceneFileError(f"{what}: expected a number, got {json.dumps(value)[:40]}")
    if integer and not (isinstance(value, int) or float(value).is_integer()):
        raise SceneFileError(f"{what}: expected a whole number, got {value!r}")
    try:
        v = float(value)
    except OverflowError:  # an integer too large for a float
        raise SceneFileError(f"{what}: {str(value)[:30]} is out of range") from None
    if not math.isfinite(v) or (lo is not None and v < lo) or (hi is not None and v > hi):
        raise SceneFileError(f"{what}: {value!r} is out of range (allowed: {lo:g} to {hi:g})")
    return v


def _json_matrix(value, what: str, shape: tuple, limit: float) -> np.ndarray:
    rows = value
    if not isinstance(rows, list) or len(rows) != shape[0]:
        raise SceneFileError(f"{what}: expected {'x'.join(map(str, shape))} numbers, got {json.dumps(value)[:60]}")
    if len(shape) == 1:
        return np.array([_json_number(v, f"{what}[{i}]", -limit, limit) for i, v in enumerate(rows)])
    return np.stack([_json_matrix(r, f"{what}[{i}]", shape[1:], limit) for i, r in enumerate(rows)])


def read_cameras_json(path: str | Path) -> list[Camera]:
    """3DGS's ``cameras.json``: per camera ``position`` (centre) and ``rotation`` (camera-to-world 3x3, OpenCV axes),
    ``fx``, ``fy``, ``width``, ``height``; the principal point is the image centre. Every field is checked (a rotation
    must be orthonormal with determinant +1, focal lengths positive, sizes whole pixels up to MAX_CAMERA_PX)."""
    p = Path(path)
    items = json_load(p, SceneFileError)
    if not isinstance(items, list) or not items:
        raise SceneFileError(f"{p}: expected a non-empty list of cameras")
    if len(items) > MAX_CAMERAS:
        raise SceneFileError(f"{p}: {len(items):,} cameras, more than the {MAX_CAMERAS:,} this reader accepts")
    cams = []
    for i, c in enumerate(items):
        at = f"{p}: camera {i}"
        if not isinstance(c, dict):
            raise SceneFileError(f"{at}: expected an object with position, rotation, fx, fy, width, height")
        missing = [k for k in ("position", "rotation", "fx", "fy", "width", "height") if k not in c]
        if missing:
            raise SceneFileError(f"{at}: missing {', '.join(missing)}")
        pos = _json_matrix(c["position"], f"{at}: position", (3,), COORD_LIMIT)
        R_c2w = _json_matrix(c["rotation"], f"{at}: rotation", (3, 3), 2.0)
        if np.abs(R_c2w.T @ R_c2w - np.eye(3)).max() > 1e-3 or np.linalg.det(R_c2w) < 0:
            raise SceneFileError(f"{at}: rotation is not a rotation matrix (expected orthonormal rows, determinant +1)")
        W = int(_json_number(c["width"], f"{at}: width", 1, MAX_CAMERA_PX, integer=True))
        H = int(_json_number(c["height"], f"{at}: height", 1, MAX_CAMERA_PX, integer=True))
        fx = _json_number(c["fx"], f"{at}: fx", 1e-6, MAX_FOCAL_PX)
        fy = _json_number(c["fy"], f"{at}: fy", 1e-6, MAX_FOCAL_PX)
        m = np.eye(4)
        m[:3, :3] = R_c2w.T
        m[:3, 3] = -R_c2w.T @ pos
        cams.append(Camera(m, fx, fy, W / 2, H / 2, W, H))
    return cams


def write_cameras_json(cameras: list[Camera], path: str | Path) -> Path:
    p = Path(path)
    items = [dict(id=i, img_name=f"{i:05d}", width=c.width, height=c.height, position=c.position.tolist(),
                  rotation=c.rotation.T.tolist(), fx=c.fx, fy=c.fy) for i, c in enumerate(cameras)]
    p.write_text(json.dumps(items, indent=1))
    return p


__all__ = ["SceneFileError", "load_scene", "cameras_beside", "read_ply", "write_ply", "read_splat", "write_splat", "read_cameras_json",
           "write_cameras_json", "sh_degree_for"]
