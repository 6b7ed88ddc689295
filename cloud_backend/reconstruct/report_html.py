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

TEMPLATE = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string("""\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>OpenScan reconstruction report</title>
<style>
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #202124; background: #f6f7f9;
       margin: 0; }
main { max-width: 980px; margin: 0 auto; padding: 12px 14px 40px; }
h1 { font-size: 1.45em; margin: 8px 0 4px; } h2 { font-size: 1.15em; margin: 0 0 8px; }
section { background: #fff; border: 1px solid #dfe1e5; border-radius: 8px; padding: 12px 14px; margin: 14px 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 8px; margin: 0; }
.cards div { background: #fff; border: 1px solid #dfe1e5; border-radius: 8px; padding: 8px 10px; }
.cards dt { font-size: .8em; color: #5f6368; } .cards dd { margin: 0; font-size: 1.15em; font-weight: 600; }
.cards dd small { font-weight: 400; font-size: .75em; color: #5f6368; display: block; }
.preview { display: block; width: 100%; max-width: 520px; height: auto; margin: 0 auto; border-radius: 6px; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
.plots figure { flex: 1 1 280px; margin: 0; }
.plot { width: 100%; height: auto; max-height: 420px; background: #fbfbfc; border: 1px solid #eee; border-radius: 6px; }
.plot .axis, figcaption { font-size: 12px; fill: #5f6368; color: #5f6368; }
.plot .ring { font-size: 10px; fill: #9aa0a6; }
.legend { font-size: .85em; color: #5f6368; }
.scale { display: inline-block; width: 90px; height: 10px; vertical-align: middle;
         background: linear-gradient(90deg, {{ gradient }}); border-radius: 2px; }
.red { color: #d93025; font-weight: 600; }
.thumbs { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px; }
.thumbs figure { margin: 0; border: 1px solid #f1c0bc; background: #fff8f7; border-radius: 6px; padding: 6px; }
.thumbs img { display: block; max-width: 100%; height: auto; margin: 0 auto 4px; }
.thumbs figcaption { font-size: .82em; color: #3c4043; overflow-wrap: anywhere; }
.thumbs b { display: block; }
.wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .9em; }
th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eee; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.name { overflow-wrap: anywhere; }
.bar { height: 10px; background: #1a73e8; border-radius: 2px; min-width: 1px; }
.bar.cpu { background: #9aa0a6; height: 5px; margin-top: 2px; }
td.barcell { width: 40%; min-width: 80px; }
details summary { cursor: pointer; color: #1a73e8; }
footer { font-size: .8em; color: #5f6368; }
</style>
</head>
<body>
<main>
<h1>Reconstruction report</h1>
<dl class="cards" id="summary">
  <div><dt>Photos registered</dt><dd>{{ registered|length }} of {{ r.images_given }}
    <small>{{ left_out|length }} left out, {{ skipped|length }} skipped</small></dd></div>
  <div><dt>Mean reprojection error</dt><dd>{{ fmt(r.reprojection_error_px, 2) }} px</dd></div>
  <div><dt>Scale</dt><dd>{{ "millimetres" if r.units == "mm" else "arbitrary units" }}
    <small>{{ r.scale_source }}</small></dd></div>
  <div><dt>Points</dt><dd>{{ count(r.dense_points) }}{% if r.dense_points %} dense{% endif %}
    <small>{{ count(r.sparse_points) }} sparse
    {%- if r.dense_method %}; {{ r.dense_method }}{% endif %}</small></dd></div>
  <div><dt>Mesh</dt><dd>{{ count(r.mesh_faces) }}{% if r.mesh_faces %} faces{% endif %}</dd></div>
  <div><dt>Time</dt><dd>{{ duration(total_s) }}<small>until export</small></dd></div>
</dl>

{% if preview %}
<section id="preview"><h2>Preview</h2><img class="preview" src="{{ preview }}" alt="preview of the model"></section>
{% endif %}

<section id="cameras"><h2>Camera positions</h2>
{% if top %}
  <div class="plots">
    <figure>{{ top }}<figcaption>from the top</figcaption></figure>
    <figure>{{ side }}<figcaption>from the side</figcaption></figure>
  </div>
  <p class="legend">Each dot is a registered photo, its line the direction the camera looked; colour: sparse
    points the photo observes (<span class="scale"></span> few to many). Grey: the object's sparse points; +: the
    origin{% if r.units == "mm" %} (the turntable's axis){% endif %}.
    {% if left_out %}<span class="red">Red rings</span>: where the rig says a left-out photo was taken
    (only when the scan came with rig angles).{% endif %}</p>
{% else %}
  <p>No camera was registered.</p>
{% endif %}
</section>

{% if coverage %}
<section id="coverage"><h2>Coverage of the rig's angles</h2>
  <div class="plots"><figure>{{ coverage }}<figcaption>turntable angle around, rotor angle inwards (90° at the
    centre)</figcaption></figure></div>
  <p class="legend">Colour: sparse points each photo observes (<span class="scale"></span> few to many): angles
    with dark dots added little to the surface. <span class="red">×</span>: photos the model left out.</p>
</section>
{% endif %}

<section id="photos"><h2>Photos: {{ registered|length }} of {{ r.images_given }} registered</h2>
{% if left_out %}
  <p>{{ left_out|length }} photo{{ "s" if left_out|length != 1 }} could not be placed in the model:</p>
  <div class="thumbs">
  {% for p in left_out %}
    <figure class="left-out" data-name="{{ p.name }}">
      {% if thumbs.get(p.name) %}<img src="{{ thumbs[p.name] }}" alt="{{ p.name }}">{% endif %}
      <figcaption><b>{{ p.name }}</b><span class="reason">{{ p.reason }}</span></figcaption>
    </figure>
  {% endfor %}
  </div>
  {% if left_out|length > thumbs_max %}<p class="legend">Thumbnails of the first {{ thumbs_max }} only.</p>{% endif %}
{% endif %}
{% if skipped %}
  <p>Skipped before reconstruction:</p>
  <ul>{% for p in skipped %}<li class="skipped"><b>{{ p.name }}</b>: <span class="reason">{{ p.reason }}</span></li>
  {% endfor %}</ul>
{% endif %}
{% if not left_out and not skipped %}<p>Every photo was used.</p>{% endif %}
</section>

{% if ranked %}
<section id="errors"><h2>Reprojection error per photo, worst first</h2>
  <p class="legend">How far, on average, the model's points land from where the photo saw them. Well under 1 px
    is good; a photo far above the others may be blurred, or the object moved.</p>
  {% set angles = ranked[0].rotor_deg is not none %}
  {% macro error_table(rows, worst, angles) %}
  <div class="wrap"><table>
    <thead><tr><th>Photo</th><th class="num">Error (px)</th><th></th><th class="num">Points</th>
      {% if angles %}<th class="num">Rotor</th><th class="num">Turntable</th>{% endif %}</tr></thead>
    <tbody>
    {% for p in rows %}
      <tr><td class="name">{{ p.name }}</td><td class="num">{{ fmt(p.reprojection_error_px, 3) }}</td>
        <td class="barcell"><div class="bar" style="width: {{ (100 * p.reprojection_error_px / worst)|round(1) }}%"></div></td>
        <td class="num">{{ p.observations }}</td>
        {% if angles %}<td class="num">{{ angle(p.rotor_deg) }}</td><td class="num">{{ angle(p.turntable_deg) }}</td>{% endif %}</tr>
    {% endfor %}
    </tbody>
  </table></div>
  {% endmacro %}
  {{ error_table(ranked[:worst_shown], worst, angles) }}
  {% if ranked|length > worst_shown %}
  <details><summary>the other {{ ranked|length - worst_shown }} registered photos</summary>
  {{ error_table(ranked[worst_shown:], worst, angles) }}
  </details>
  {% endif %}
</section>
{% endif %}

{% if times %}
<section id="timings"><h2>Time per stage</h2>
  <div class="wrap"><table>
    <thead><tr><th>Stage</th><th class="num">Wall</th><th class="num">CPU</th><th></th></tr></thead>
    <tbody>
    {% for name, seconds in times.items() %}
      <tr><td>{{ name }}</td><td class="num">{{ duration(seconds) }}</td>
        <td class="num">{{ duration(r.cpu_s.get(name)) if r.cpu_s and r.cpu_s.get(name) is not none else "" }}</td>
        <td class="barcell"><div class="bar" style="width: {{ (100 * seconds / slowest)|round(1) }}%"></div>
        {% if r.cpu_s and r.cpu_s.get(name) %}
        <div class="bar cpu" style="width: {{ [100, 100 * r.cpu_s[name] / slowest]|min|round(1) }}%"></div>
        {% endif %}</td></tr>
    {% endfor %}
    </tbody>
  </table></div>
  <p class="legend">Blue: wall-clock time; grey: CPU time of the stage's process (above the wall time when
    it used several cores).</p>
</section>
{% endif %}

<section id="details"><h2>Details</h2>
  <table>
    <tr><th>Manifest</th><td>{{ r.manifest }}</td></tr>
    <tr><th>Intrinsics</th><td>{{ "calibrated, kept fixed" if r.fixed_intrinsics else "estimated from the photos" }}</td></tr>
    <tr><th>Photo pairs</th><td>{{ r.pair_strategy or "" }}</td></tr>
    <tr><th>Dense method</th><td>{{ r.dense_method or "" }}</td></tr>
  </table>
  {% if r.options %}
  <details><summary>Options</summary><div class="wrap"><table>
    {% for k, v in r.options|dictsort %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}
  </table></div></details>
  {% endif %}
</section>
<footer>OpenScan Cloud. The same numbers are in report.json; the camera poses in sparse/.</footer>
</main>
</body>
</html>
""", globals={
    "gradient": _GRADIENT,
    # a number the report lacks (a stage that did not run, an older report) shows as a dash
    "fmt": lambda v, digits: "–" if _missing(v) else f"{v:.{digits}f}",
    "count": lambda v: "–" if _missing(v) else f"{v:,}".replace(",", "\u2009"),
    "angle": lambda v: "" if _missing(v) else f"{v:g}°",
    "duration": lambda s: "–" if _missing(s) else (f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"),
})
