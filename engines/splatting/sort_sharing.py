"""S²'s re-sort rule, one for the engine's renderer and the live viewport: when a shared sort is stale.

A sort made at a reference pose is shared by the following frames until one of these holds (checked in this
order): there is no reference yet; the image size changed; ``window`` frames have used it (the sorting frame
included, so ``window = 1`` sorts every frame); the view direction turned more than ``max_angle_deg`` from
the reference, arccos((tr(R Rᵣᵀ) − 1) / 2); the camera centre moved more than ``max_translation``.
The Config's ``s2_window``, ``s2_max_angle_deg`` and ``s2_max_translation`` are the one setting of both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera import Camera, angle_between_deg


@dataclass(frozen=True)
class ResortRule:
    window: int = 6
    max_angle_deg: float = 5.0
    max_translation: float = 0.5

    @classmethod
    def from_config(cls, cfg) -> ResortRule:
        return cls(cfg.s2_window, cfg.s2_max_angle_deg, cfg.s2_max_translation)

    def reason(self, ref: Camera | None, cam: Camera, age: int) -> str:
        """Why ``cam`` needs a new sort ('' = keep sharing the one made at ``ref``, already used by ``age`` frames)."""
        if ref is None:
            return "first frame"
        if (cam.width, cam.height) != (ref.width, ref.height):
            return "resolution"
        if age >= self.window:
            return "window"
        if angle_between_deg(cam, ref) > self.max_angle_deg:
            return "angle"
        if float(np.linalg.norm(cam.position - ref.position)) > self.max_translation:
            return "translation"
        return ""
