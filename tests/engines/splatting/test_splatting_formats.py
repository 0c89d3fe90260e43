"""Scene files: .ply round trip, hand-built files with known activations, .splat, cameras.json, malformed files."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from engines.splatting import SceneFileError, load_scene, read_cameras_json, read_ply, read_splat, write_ply, write_splat
from engines.splatting.formats import write_cameras_json
from engines.splatting.scene import SH_C0, Scene, procedural_scene

DC = ["f_dc_0", "f_dc_1", "f_dc_2"]


def _write_ply(path, names, rows, fmt="binary_little_endian", count=None, truncate=0):
    header = f"ply\nformat {fmt} 1.0\ncomment hand-built\nelement vertex {len(rows) if count is None else count}\n"
    header += "".join(f"property float {n}\n" for n in names) + "end_header\n"
    body = np.asarray(rows, dtype="<f4").tobytes()
    if fmt == "ascii":
        body = "\n".join(" ".join(repr(float(v)) for v in r) for r in rows).encode() + b"\n"
    with open(path, "wb") as f:
        f.write(header.encode())
        f.write(body[: len(body) - truncate] if truncate else body)
    return path


def _names(rest: int):
    return ["x", "y", "z", "nx", "ny", "nz", *DC, *[f"f_rest_{i}" for i in range(rest)], "opacity", "scale_0", "scale_1", "scale_2",
            "rot_0", "rot_1", "rot_2", "rot_3"]


def test_ply_written_and_read_back_is_identical(tmp_path):
    s = procedural_scene(2000, seed=3)
    s.normals = np.random.default_rng(1).normal(size=(s.n, 3)).astype(np.float32)
    back = read_ply(write_ply(s, tmp_path / "a.ply"))
    for k in ("means", "sh", "opacity_logit", "log_scales", "quats", "normals"):
        assert np.array_equal(getattr(s, k), getattr(back, k)), k
    assert back.sh_degree == 3
    # and writing the read-back scene gives the same bytes
    assert (tmp_path / "a.ply").read_bytes() == write_ply(back, tmp_path / "b.ply").read_bytes()


def test_hand_built_degree0_ply_has_the_right_activations(tmp_path):
    # opacity logit 0 -> 0.5, ln 2 -> 2/3; log scale ln 0.1 -> 0.1; quaternion (2,0,0,0) -> identity; DC 0 -> grey 0.5
    rows = [[1, 2, 3, 0, 0, 1, 0, 0, 0, 0.0, np.log(0.1), np.log(0.2), np.log(0.3), 2, 0, 0, 0],
            [0, 0, 0, 0, 0, 1, 1 / SH_C0, -0.5 / SH_C0, 0, np.log(2), 0, 0, 0, 0, 0, 0, 3]]
    s = read_ply(_write_ply(tmp_path / "d0.ply", _names(0), rows))
    assert s.sh_degree == 0 and s.n == 2
    assert np.allclose(s.opacity, [0.5, 2 / 3])
    assert np.allclose(s.scales[0], [0.1, 0.2, 0.3], rtol=1e-6)
    assert np.allclose(s.rotations, [[1, 0, 0, 0], [0, 0, 0, 1]])
    assert np.allclose(s.base_colors(), [[0.5, 0.5, 0.5], [1.5, 0.0, 0.5]], atol=1e-6)
    assert np.allclose(s.means[0], [1, 2, 3])


def test_hand_built_degree3_ply_reads_f_rest_channel_major(tmp_path):
    rest = np.arange(45, dtype=float)  # f_rest_i = i
    row = [0, 0, 0, 0, 0, 1, 0.1, 0.2, 0.3, *rest, 0.0, 0, 0, 0, 1, 0, 0, 0]
    s = read_ply(_write_ply(tmp_path / "d3.ply", _names(45), [row]))
    assert s.sh_degree == 3
    # channel c, band k (k >= 1) is f_rest[c * 15 + k - 1]
    for c in range(3):
        for k in range(1, 16):
            assert s.sh[0, k, c] == c * 15 + k - 1
    assert np.allclose(s.sh[0, 0], [0.1, 0.2, 0.3])


def test_ascii_ply_reads_like_binary(tmp_path):
    rows = [[1, 2, 3, 0, 0, 1, 0.5, 0, 0, 0.3, -1, -2, -3, 1, 0, 0, 0]]
    a = read_ply(_write_ply(tmp_path / "a.ply", _names(0), rows, fmt="ascii"))
    b = read_ply(_write_ply(tmp_path / "b.ply", _names(0), rows))
    assert np.allclose(a.means, b.means) and np.allclose(a.log_scales, b.log_scales) and np.allclose(a.sh, b.sh)


@pytest.mark.parametrize(
    "case, match",
    [
        ("missing", "missing vertex properties opacity"),
        ("rest_count", "f_rest properties"),
        ("truncated", "truncated body"),
        ("nan", "NaN"),
        ("magic", "not a PLY"),
        ("format", "unsupported PLY format"),
    ],
)
def test_bad_ply_files_are_refused_with_a_clear_message(tmp_path, case, match):
    names, row = _names(0), [0, 0, 0, 0, 0, 1, 0, 0, 0, 0.0, 0, 0, 0, 1, 0, 0, 0]
    p = tmp_path / "bad.ply"
    if case == "missing":
        i = names.index("opacity")
        _write_ply(p, names[:i] + names[i + 1:], [row[:i] + row[i + 1:]])
    elif case == "rest_count":
        n5 = _names(5)
        _write_ply(p, n5, [row[:9] + [0] * 5 + row[9:]])
    elif case == "truncated":
        _write_ply(p, names, [row, row], truncate=10)
    elif case == "nan":
        _write_ply(p, names, [row, [np.nan] + row[1:]])
    elif case == "magic":
        p.write_bytes(b"PK\x03\x04 not a ply")
    elif case == "format":
        _write_ply(p, names, [row], fmt="binary_middle_endian")
    with pytest.raises(SceneFileError, match=match):
        load_scene(p)


def test_splat_round_trip_keeps_geometry_and_dc_colour(tmp_path):
    s = procedural_scene(1000, seed=1)
    back = read_splat(write_splat(s, tmp_path / "a.splat", sort_by_importance=False))
    assert (tmp_path / "a.splat").stat().st_size == 32 * s.n
    assert np.array_equal(back.means, s.means)
    assert np.allclose(back.scales, s.scales, rtol=1e-5)
    # colours and opacity are quantised to 8 bits, rotations to 1/128
    assert np.abs(back.base_colors() - np.clip(s.base_colors(), 0, 1)).max() <= 0.5 / 255 + 1e-6
    assert np.abs(back.opacity - s.opacity).max() <= 0.5 / 255 + 1e-3
    dots = np.abs(np.sum(back.rotations * s.rotations, axis=1))
    assert dots.min() > 0.999


def test_hand_built_splat_decodes_each_field():
    import tempfile
    from pathlib import Path

    rec = struct.pack("<3f3f4B4B", 1.0, -2.0, 3.0, 0.1, 0.2, 0.4, 255, 128, 0, 191, 128 + 127, 128, 128, 128)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "one.splat"
        p.write_bytes(rec)
        s = read_splat(p)
        assert np.allclose(s.means[0], [1, -2, 3]) and np.allclose(s.scales[0], [0.1, 0.2, 0.4], rtol=1e-6)
        assert np.allclose(s.base_colors()[0], [1.0, 128 / 255, 0.0], atol=1e-6)
        assert np.isclose(s.opacity[0], 191 / 255, atol=1e-6)
        assert np.allclose(s.rotations[0], [1, 0, 0, 0])
        p.write_bytes(rec + rec[:20])
        with pytest.raises(SceneFileError, match="32-byte"):
            read_splat(p)


def test_cameras_json_gives_opencv_world_to_camera(tmp_path):
    from engines.splatting.camera import look_at

    eye = np.array([1.0, -4.0, 2.0])
    from engines.splatting.camera import Camera

    cam = Camera(look_at(eye, [0, 0, 0]), 500.0, 510.0, 320.0, 240.0, 640, 480)
    back = read_cameras_json(write_cameras_json([cam], tmp_path / "cameras.json"))[0]
    assert np.allclose(back.viewmat, cam.viewmat) and np.allclose(back.position, eye)
    # the world origin is straight ahead: camera-space (0, 0, |eye|)
    p = back.viewmat @ np.array([0, 0, 0, 1.0])
    assert np.allclose(p[:3], [0, 0, np.linalg.norm(eye)])
    (tmp_path / "bad.json").write_text(json.dumps([{"id": 0, "position": [0, 0, 0]}]))
    with pytest.raises(SceneFileError, match="camera 0"):
        read_cameras_json(tmp_path / "bad.json")


def test_scene_rejects_inconsistent_arrays():
    with pytest.raises(ValueError, match="sh"):
        Scene(np.zeros((2, 3)), np.zeros((2, 5, 3)), np.zeros(2), np.zeros((2, 3)), np.zeros((2, 4)))
