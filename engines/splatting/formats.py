"""Scene files: the trained-3DGS ``.ply``, antimatter15's ``.splat`` and 3DGS's ``cameras.json``.

``.ply`` (as written by the 3DGS reference code): one ``vertex`` element with float properties
``x y z nx ny nz f_dc_0..2 f_rest_0..M-1 opacity scale_0..2 rot_0..3``. ``f_rest`` is channel-major:
``f_rest[c * (K - 1) + (k - 1)]`` is band coefficient k of channel c, K = (d + 1)², so M = 3 (K - 1) gives the
SH degree d (M in 0, 9, 24, 45). Opacity is a logit, scales are logs, the quaternion is w-first.

``.splat``: 32 bytes per splat, little-endian: position 3 x f32, scale 3 x f32 (linear), colour RGBA 4 x u8
(RGB = (0.5 + C0 f_dc) * 255, A = sigmoid(opacity) * 255), rotation 4 x u8 (q / |q| * 128 + 128, w-first).
DC colour only; the format carries no higher SH bands.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .camera import Camera
from .scene import SH_C0, Scene, sh_degree_for, up_from_cameras

_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4", "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}


class SceneFileError(ValueError):
    """A malformed scene file; the message names the file and what is wrong."""


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
def _ply_header(raw: bytes, name: str) -> tuple[str, int, list[tuple[str, str]], int]:
    if not raw.startswith(b"ply"):
        raise SceneFileError(f"{name}: not a PLY file (no 'ply' magic)")
    end = raw.find(b"end_header")
    if end < 0:
        raise SceneFileError(f"{name}: PLY header has no end_header")
    nl = raw.find(b"\n", end)
    body_at = nl + 1 if nl >= 0 else len(raw)
    lines = raw[:end].decode("ascii", "replace").splitlines()
    fmt, count, props, element = None, None, [], None
    for line in lines[1:]:
        parts = line.split()
        if not parts or parts[0] in ("comment", "obj_info"):
            continue
        if parts[0] == "format":
            fmt = parts[1] if len(parts) > 1 else ""
        elif parts[0] == "element":
            element = parts[1] if len(parts) > 1 else ""
            if element == "vertex":
                try:
                    count = int(parts[2])
                except (IndexError, ValueError):
                    raise SceneFileError(f"{name}: bad vertex count in {line!r}") from None
        elif parts[0] == "property" and element == "vertex":
            if parts[1] == "list":
                raise SceneFileError(f"{name}: list property {parts[-1]!r} in vertex element is not supported")
            if len(parts) < 3 or parts[1] not in _PLY_TYPES:
                raise SceneFileError(f"{name}: cannot read property line {line!r}")
            props.append((parts[2], _PLY_TYPES[parts[1]]))
    if fmt not in ("binary_little_endian", "binary_big_endian", "ascii"):
        raise SceneFileError(f"{name}: unsupported PLY format {fmt!r} (allowed: binary_little_endian, binary_big_endian, ascii)")
    if count is None:
        raise SceneFileError(f"{name}: PLY has no vertex element")
    return fmt, count, props, body_at


def read_ply(path: str | Path) -> Scene:
    """Read a trained-3DGS ``.ply``; missing properties, wrong counts, truncated bodies and NaN are refused."""
    p = Path(path)
    name = p.name
    raw = p.read_bytes()
    fmt, n, props, body_at = _ply_header(raw, name)
    names = [k for k, _ in props]
    if len(set(names)) != len(names):
        raise SceneFileError(f"{name}: duplicate vertex properties")
    need = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    missing = [k for k in need if k not in names]
    if missing:
        raise SceneFileError(f"{name}: missing vertex properties {', '.join(missing)}")
    rest = sorted((k for k in names if k.startswith("f_rest_")), key=lambda k: int(k[7:]) if k[7:].isdigit() else -1)
    if [k for k in rest] != [f"f_rest_{i}" for i in range(len(rest))]:
        raise SceneFileError(f"{name}: f_rest properties are not numbered 0..{len(rest) - 1}")
    if len(rest) % 3 or len(rest) // 3 + 1 not in (1, 4, 9, 16):
        raise SceneFileError(f"{name}: {len(rest)} f_rest properties is not 3((d+1)^2 - 1) for an SH degree d in 0..3 "
                             "(allowed: 0, 9, 24, 45)")
    if fmt == "ascii":
        text = raw[body_at:].decode("ascii", "replace").split()
        if len(text) < n * len(props):
            raise SceneFileError(f"{name}: truncated body: {len(text)} values for {n} vertices x {len(props)} properties")
        try:
            flat = np.asarray(text[: n * len(props)], dtype=np.float64).reshape(n, len(props))
        except ValueError:
            raise SceneFileError(f"{name}: non-numeric value in the ASCII body") from None
        cols = {k: flat[:, i] for i, k in enumerate(names)}
    else:
        endian = "<" if fmt == "binary_little_endian" else ">"
        dtype = np.dtype([(k, endian + t) for k, t in props])
        need_bytes = n * dtype.itemsize
        have = len(raw) - body_at
        if have < need_bytes:
            raise SceneFileError(f"{name}: truncated body: {have} bytes for {n} vertices of {dtype.itemsize} bytes ({need_bytes} needed)")
        arr = np.frombuffer(raw, dtype=dtype, count=n, offset=body_at)
        cols = {k: arr[k].astype(np.float64) for k in names}
    if n == 0:
        raise SceneFileError(f"{name}: no vertices")

    def stack(keys):
        return np.stack([cols[k] for k in keys], axis=1)

    means = stack(["x", "y", "z"])
    K = len(rest) // 3 + 1
    sh = np.zeros((n, K, 3))
    sh[:, 0, :] = stack(["f_dc_0", "f_dc_1", "f_dc_2"])
    if K > 1:
        fr = stack(rest).reshape(n, 3, K - 1)  # channel-major
        sh[:, 1:, :] = fr.transpose(0, 2, 1)
    opacity = cols["opacity"]
    log_scales = stack(["scale_0", "scale_1", "scale_2"])
    quats = stack(["rot_0", "rot_1", "rot_2", "rot_3"])
    normals = stack(["nx", "ny", "nz"]) if all(k in names for k in ("nx", "ny", "nz")) else np.zeros((n, 3))
    for label, a in (("position", means), ("SH colour", sh), ("opacity", opacity), ("scale", log_scales), ("rotation", quats)):
        bad = ~np.isfinite(a.reshape(n, -1)).all(axis=1)
        if bad.any():
            raise SceneFileError(f"{name}: {int(bad.sum())} vertices have NaN or infinite {label} (first: vertex {int(np.argmax(bad))})")
    qn = np.linalg.norm(quats, axis=1)
    if (qn == 0).any():
        raise SceneFileError(f"{name}: {int((qn == 0).sum())} vertices have a zero rotation quaternion")
    f32 = np.float32
    return Scene(means.astype(f32), sh.astype(f32), opacity.astype(f32), log_scales.astype(f32), quats.astype(f32),
                 normals=normals.astype(f32), name=p.stem)


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
    p = Path(path)
    raw = p.read_bytes()
    if len(raw) == 0:
        raise SceneFileError(f"{p.name}: empty .splat file")
    if len(raw) % 32:
        raise SceneFileError(f"{p.name}: {len(raw)} bytes is not a whole number of 32-byte splats (truncated?)")
    a = np.frombuffer(raw, dtype=_SPLAT)
    pos, scale = a["pos"].astype(np.float64), a["scale"].astype(np.float64)
    for label, v in (("position", pos), ("scale", scale)):
        bad = ~np.isfinite(v).all(axis=1)
        if bad.any():
            raise SceneFileError(f"{p.name}: {int(bad.sum())} splats have NaN or infinite {label}")
    if (scale <= 0).any():
        raise SceneFileError(f"{p.name}: {int((scale <= 0).any(axis=1).sum())} splats have a non-positive scale")
    rgba = a["rgba"].astype(np.float64) / 255.0
    q = (a["rot"].astype(np.float64) - 128.0) / 128.0
    qn = np.linalg.norm(q, axis=1, keepdims=True)
    q = np.where(qn > 0, q / np.maximum(qn, 1e-12), [1.0, 0.0, 0.0, 0.0])
    n = len(a)
    sh = np.zeros((n, 1, 3))
    sh[:, 0, :] = (rgba[:, :3] - 0.5) / SH_C0
    alpha = np.clip(rgba[:, 3], 0.5 / 255, 1 - 0.5 / 255)
    f32 = np.float32
    return Scene(pos.astype(f32), sh.astype(f32), np.log(alpha / (1 - alpha)).astype(f32), np.log(scale).astype(f32),
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
def read_cameras_json(path: str | Path) -> list[Camera]:
    """3DGS's ``cameras.json``: per camera ``position`` (centre) and ``rotation`` (camera-to-world 3x3, OpenCV axes),
    ``fx``, ``fy``, ``width``, ``height``; the principal point is the image centre."""
    p = Path(path)
    try:
        items = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise SceneFileError(f"{p.name}: cannot read cameras: {err}") from None
    if not isinstance(items, list) or not items:
        raise SceneFileError(f"{p.name}: expected a non-empty list of cameras")
    cams = []
    for i, c in enumerate(items):
        try:
            R_c2w = np.asarray(c["rotation"], dtype=np.float64)
            pos = np.asarray(c["position"], dtype=np.float64)
            W, H, fx, fy = int(c["width"]), int(c["height"]), float(c["fx"]), float(c["fy"])
        except (KeyError, TypeError, ValueError) as err:
            raise SceneFileError(f"{p.name}: camera {i}: missing or bad field {err}") from None
        if R_c2w.shape != (3, 3) or pos.shape != (3,) or not (np.isfinite(R_c2w).all() and np.isfinite(pos).all()):
            raise SceneFileError(f"{p.name}: camera {i}: rotation must be 3x3 and position 3 finite numbers")
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
