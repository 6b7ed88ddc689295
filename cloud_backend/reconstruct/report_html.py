"""`report.html`: the result's visual report, one self-contained file that opens offline.

Inline CSS, inline SVG plots, images as data: URIs, no script and no network: it opens from the
unpacked zip, in the rig's panel and on a phone alike. Everything it shows comes from the dict
that is also written as report.json (`photo_table` gives that dict its per-photo rows), plus
the preview, the sparse points (the object's outline in the camera plot) and downscaled
thumbnails of the photos the model left out.
"""
import base64
import math
import pathlib

import cv2
import jinja2
import numpy as np
from markupsafe import Markup, escape

THUMB_PX = 160       # longest side of a left-out photo's thumbnail
THUMBS_MAX = 24      # at most this many thumbnails (~5 KB each): the rest are listed by name
WORST_SHOWN = 12     # rows of the error table shown at first; the others behind a click
PREVIEW_PX = 720     # the preview is re-encoded as JPEG at most this size
OUTLINE_POINTS = 1500
VIRIDIS = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")


def photo_table(info, sfm_stats):
    """report.json's `photos`: one row per photo given, in name order, with what happened to it:
    status "registered" / "left out" (by SfM) / "skipped" (by ingest), the reason, the sparse
    points it observes, its mean reprojection error (px), its camera centre and viewing direction
    (model frame) and, for rig scans, its rotor and turntable angles."""
    per_image = sfm_stats.get("per_image") or {}
    left_out = {e["name"]: e["reason"] for e in sfm_stats.get("images_unregistered") or []}
    angles = (info.get("manifest") or {}).get("angles") or {}
    rows = [(name, "left out" if name in left_out else "registered", left_out.get(name))
            for name in info["images"]]
    rows += [(s["name"], "skipped", s["reason"]) for s in info["skipped"]]
    table = []
    for name, status, reason in sorted(rows):
        seen = per_image.get(name, {})
        rotor, turntable = angles.get(name, (None, None))
        table.append({"name": name, "status": status, "reason": reason,
                      "observations": seen.get("observations"),
                      "reprojection_error_px": seen.get("reprojection_error_px"),
                      "centre": seen.get("centre"), "view": seen.get("view"),
                      "rotor_deg": rotor, "turntable_deg": turntable})
    return table


def write(path, report, preview=None, rec=None, images=None):
    """report.html at `path` from the report dict (report.json's content); `preview` the PNG,
    `rec` the sparse model (object outline), `images` the folder of the photos (thumbnails)."""
    pathlib.Path(path).write_text(render(report, preview, rec, images), encoding="utf-8")


def render(report, preview=None, rec=None, images=None):
    photos = report.get("photos") or []
    registered = [p for p in photos if p["status"] == "registered"]
    left_out = [p for p in photos if p["status"] == "left out"]
    skipped = [p for p in photos if p["status"] == "skipped"]
    thumbs = {p["name"]: _thumbnail(pathlib.Path(images) / p["name"])
              for p in left_out[:THUMBS_MAX]} if images else {}
    ranked = sorted((p for p in registered if p["reprojection_error_px"] is not None),
                    key=lambda p: -p["reprojection_error_px"])
    worst = ranked[0]["reprojection_error_px"] if ranked else 0
    times = {k: v for k, v in (report.get("timing_s") or {}).items() if v is not None}
    outline = _outline(rec)
    distance = _camera_distance(photos)
    return TEMPLATE.render(
        r=report, registered=registered, left_out=left_out, skipped=skipped, thumbs=thumbs,
        thumbs_max=THUMBS_MAX, ranked=ranked, worst_shown=WORST_SHOWN, worst=worst or 1, times=times,
        slowest=max(times.values(), default=0) or 1, total_s=sum(times.values()),
        preview=_data_uri(preview) if preview and pathlib.Path(preview).exists() else None,
        top=_camera_plot(photos, outline, (0, 1), "top", report.get("units"), distance),
        side=_camera_plot(photos, outline, (0, 2), "side", report.get("units"), distance),
        coverage=_coverage_plot(photos),
    )


def _data_uri(png):
    img = cv2.imread(str(png), cv2.IMREAD_COLOR)
    if img is None:
        return None
    return _jpeg_uri(img, PREVIEW_PX, 85)


def _thumbnail(path):
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return _jpeg_uri(img, THUMB_PX, 70) if img is not None else None


def _jpeg_uri(img, longest, quality):
    h, w = img.shape[:2]
    scale = min(1.0, longest / max(h, w))
    if scale < 1.0:
        img = cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()
    return "data:image/jpeg;base64," + base64.b64encode(data).decode()


def _outline(rec):
    """Up to OUTLINE_POINTS sparse points (the object, drawn faintly behind the cameras), without
    the stray ones far outside the bulk (they would shrink the plot to a dot)."""
    if rec is None or not rec.num_points3D():
        return np.zeros((0, 3))
    pts = np.array([p.xyz for p in rec.points3D.values()])
    lo, hi = np.percentile(pts, [2, 98], axis=0)
    pad = 0.1 * (hi - lo)
    pts = pts[((pts >= lo - pad) & (pts <= hi + pad)).all(1)]
    if len(pts) > OUTLINE_POINTS:
        pts = pts[np.random.default_rng(0).choice(len(pts), OUTLINE_POINTS, replace=False)]
    return pts


def _camera_distance(photos):
    """The median distance of the registered cameras from the origin (the turntable axis in a rig
    scan's mm frame): where a left-out photo's manifest angles put it."""
    dist = [np.linalg.norm(p["centre"]) for p in photos if p["centre"]]
    return float(np.median(dist)) if dist else None


def _expected_centre(photo, units, distance):
    """Where the rig says a left-out photo was taken (mm frame only), or None."""
    if units != "mm" or distance is None or photo["rotor_deg"] is None:
        return None
    r, t = math.radians(photo["rotor_deg"]), math.radians(photo["turntable_deg"])
    return distance * np.array([math.cos(r) * math.cos(t), -math.cos(r) * math.sin(t), math.sin(r)])


def _colour(fraction):
    """Viridis at `fraction` in [0, 1]."""
    f = min(max(fraction, 0.0), 1.0) * (len(VIRIDIS) - 1)
    k = min(int(f), len(VIRIDIS) - 2)
    a, b = (np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)]) for c in VIRIDIS[k:k + 2])
    rgb = a + (b - a) * (f - k)
    return "#" + "".join(f"{int(round(v)):02x}" for v in rgb)


def _camera_plot(photos, outline, axes, name, units, distance, size=360, margin=18):
    """The cameras seen from the top (x, y) or the side (x, z): a dot per registered photo with a
    line along its viewing direction, a red ring where the rig says a left-out photo was."""
    u, v = axes
    cams = [(p, np.array(p["centre"]), np.array(p["view"])) for p in photos
            if p["status"] == "registered" and p["centre"]]
    missing = [(p, c) for p in photos if p["status"] == "left out"
               for c in [_expected_centre(p, units, distance)] if c is not None]
    if not cams:
        return None
    spots = np.array([c for _, c, _ in cams] + [c for _, c in missing] + list(outline))[:, [u, v]]
    lo, hi = spots.min(0), spots.max(0)
    span = max(hi - lo) or 1.0
    arrow = 0.1 * span
    lo, hi = lo - 0.06 * span, hi + 0.06 * span
    span = max(hi - lo)
    scale = (size - 2 * margin) / span
    width, height = [int(round(2 * margin + (hi - lo)[k] * scale)) for k in (0, 1)]

    def at(p):
        return (margin + (p[u] - lo[0]) * scale, height - margin - (p[v] - lo[1]) * scale)

    most = max((p["observations"] or 0 for p, _, _ in cams), default=1) or 1
    parts = []
    if len(outline):
        dots = "".join("M{:.1f} {:.1f}h1.4v1.4h-1.4z".format(*at(p)) for p in outline)
        parts.append(f'<path class="outline" d="{dots}" fill="#9aa0a6"/>')
    ox, oy = at(np.zeros(3))
    parts.append(f'<path d="M{ox - 6:.1f} {oy:.1f}h12M{ox:.1f} {oy - 6:.1f}v12" stroke="#555" stroke-width="1"/>')
    for p, c, d in cams:
        x, y = at(c)
        x2, y2 = at(c + d * arrow)
        fill = _colour((p["observations"] or 0) / most)
        parts.append(f'<g class="cam" data-name="{escape(p["name"])}"><title>{escape(p["name"])}: '
                     f'{p["observations"]} points, {p["reprojection_error_px"]} px</title>'
                     f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#333" stroke-width="1.2"/>'
                     f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{fill}" stroke="#222" stroke-width="0.6"/></g>')
    for p, c in missing:
        x, y = at(c)
        parts.append(f'<g class="cam-missing" data-name="{escape(p["name"])}"><title>{escape(p["name"])}: left out '
                     f'({escape(p["reason"])})</title><circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="none" '
                     f'stroke="#d93025" stroke-width="1.6"/><path d="M{x - 3:.1f} {y - 3:.1f}l6 6m0 -6l-6 6" '
                     f'stroke="#d93025" stroke-width="1.4"/></g>')
    axis_names = "xyz"
    parts.append(f'<text x="{width - 4}" y="{height - 5}" text-anchor="end" class="axis">'
                 f'{axis_names[u]} → &#160; {axis_names[v]} ↑</text>')
    return Markup(f'<svg class="plot {name}" viewBox="0 0 {width} {height}" role="img" '
                  f'aria-label="camera positions seen from the {name}" xmlns="http://www.w3.org/2000/svg">'
                  + "".join(parts) + "</svg>")


def _coverage_plot(photos, size=340):
    """Rig scans: the photos on a polar grid of their angles (turntable angle around, as in the
    top view; rotor angle inwards, straight down at the centre), coloured by the sparse points
    each observes; left-out photos as red crosses."""
    shots = [p for p in photos if p["status"] != "skipped" and p["rotor_deg"] is not None]
    if not shots:
        return None
    low = min(0.0, 30 * math.floor(min(p["rotor_deg"] for p in shots) / 30))
    c, radius = size / 2, size / 2 - 28

    def at(rotor, turntable):
        r = radius * (90 - rotor) / (90 - low)
        t = math.radians(turntable)
        return c + r * math.cos(t), c + r * math.sin(t)   # +t turns the camera to azimuth -t: clockwise here

    parts = []
    for ring in range(int(low), 90, 30):
        r = radius * (90 - ring) / (90 - low)
        parts.append(f'<circle cx="{c}" cy="{c}" r="{r:.1f}" fill="none" stroke="#ccc"/>'
                     f'<text x="{c - r * 0.7071 - 2:.1f}" y="{c - r * 0.7071 - 2:.1f}" text-anchor="end" '
                     f'class="axis ring">{ring}°</text>')
    for t in range(0, 360, 45):
        x, y = at(low, t)
        lx, ly = at(low - (90 - low) * 0.08, t)
        parts.append(f'<line x1="{c}" y1="{c}" x2="{x:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        if t % 90 == 0:
            parts.append(f'<text x="{lx:.1f}" y="{ly + 4:.1f}" text-anchor="middle" class="axis">{t}°</text>')
    most = max((p["observations"] or 0 for p in shots), default=1) or 1
    for p in shots:
        x, y = at(p["rotor_deg"], p["turntable_deg"])
        label = (f'{escape(p["name"])}: rotor {p["rotor_deg"]:g}°, turntable {p["turntable_deg"]:g}°, ')
        if p["status"] == "registered":
            parts.append(f'<g class="shot"><title>{label}{p["observations"]} points</title><circle cx="{x:.1f}" '
                         f'cy="{y:.1f}" r="6" fill="{_colour((p["observations"] or 0) / most)}" stroke="#222" '
                         f'stroke-width="0.6"/></g>')
        else:
            parts.append(f'<g class="shot-missing"><title>{label}left out</title><path d="M{x - 5:.1f} {y - 5:.1f}'
                         f'l10 10m0 -10l-10 10" stroke="#d93025" stroke-width="2"/></g>')
    return Markup(f'<svg class="plot coverage" viewBox="0 0 {size} {size}" role="img" aria-label="coverage '
                  f'of the turntable and rotor angles" xmlns="http://www.w3.org/2000/svg">' + "".join(parts)
                  + "</svg>")


_GRADIENT = ", ".join(VIRIDIS)


def _missing(value):
    return value is None or isinstance(value, jinja2.Undefined)

# the page itself: templates/report.html (Jinja2, autoescaped)
_PAGES = jinja2.Environment(loader=jinja2.FileSystemLoader(pathlib.Path(__file__).parent / "templates"),
                            autoescape=True, trim_blocks=True, lstrip_blocks=True)
_PAGES.globals.update({
    "gradient": _GRADIENT,
    # a number the report lacks (a stage that did not run, an older report) shows as a dash
    "fmt": lambda v, digits: "–" if _missing(v) else f"{v:.{digits}f}",
    "count": lambda v: "–" if _missing(v) else f"{v:,}".replace(",", "\u2009"),
    "angle": lambda v: "" if _missing(v) else f"{v:g}°",
    "duration": lambda s: "–" if _missing(s) else (f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"),
})
TEMPLATE = _PAGES.get_template("report.html")
