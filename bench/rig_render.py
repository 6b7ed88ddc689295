"""Simulated camera speed: seconds per 1280x960 photo, and the implied 60-photo scan time.

Ratio reference in the same run: encoding the same frame as JPEG with OpenCV (the
unavoidable part of any capture), so the printed ratio is machine-independent-ish.

    python bench/rig_render.py [--photos 10]
"""
from __future__ import annotations

import argparse
import time

import cv2

from openscan_plugin.config import load_profile
from openscan_plugin.hardware.sim.rig import build_simulated_rig
from openscan_plugin.scan.path import plan_scan


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=10)
    n = ap.parse_args().photos
    profile = load_profile("mini", config={})
    t = time.perf_counter()
    rig = build_simulated_rig(profile)
    rig.camera.scene  # build the textured stone now, not inside the first photo
    build = time.perf_counter() - t
    rig.light.on()
    render, encode = 0.0, 0.0
    for rotor, turntable in plan_scan(profile, n).points:
        rig.move_to(rotor, turntable)
        t = time.perf_counter()
        img = rig.camera._frame()[0]
        render += time.perf_counter() - t
        t = time.perf_counter()
        cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 92])
        encode += time.perf_counter() - t
    print(f"scene build: {build:.2f} s (once per scan)")
    print(f"render: {render / n:.3f} s/photo = {render / encode:.1f} x JPEG encoding")
    print(f"60-photo scan estimate: {build + 60 * (render + encode) / n:.1f} s")
    rig.close()


if __name__ == "__main__":
    main()
