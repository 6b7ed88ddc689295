"""manifest.json, the rig's scan metadata sent beside the photos (docs/manifest.md, schema
`openscan-manifest` v1): its name, and one parser of its JSON into plain data. The rig writes
it (openscan_plugin.scan.manifest) and the backend builds its camera models on top of this
parse (cloud_backend.reconstruct.manifest). Readers take what they need and ignore the rest,
so an older or newer rig never breaks the other side."""
import json
from dataclasses import dataclass, field
from pathlib import Path

FILENAME = "manifest.json"
SCHEMA = "openscan-manifest"
SCHEMA_VERSION = 1
SCANNING = "scanning"        # status while photos are still being taken


class ManifestError(ValueError):
    """Not a manifest this version can read; the message says why."""


def _json(raw):
    """Text or bytes parsed; a dict (already parsed) as it is."""
    try:
        return json.loads(raw) if isinstance(raw, (str, bytes, bytearray)) else raw
    except (ValueError, RecursionError) as exc:
        raise ManifestError(f"not valid JSON ({exc})") from None


def loads(raw):
    """The manifest's JSON object from text, bytes or an already parsed dict."""
    data = _json(raw)
    if not isinstance(data, dict):
        raise ManifestError(f"{FILENAME} is not a JSON object")
    return data


def read(folder):
    """The manifest of a scan folder as a dict, None when the folder has none."""
    path = Path(folder) / FILENAME
    if not path.is_file():
        return None
    try:
        return loads(path.read_bytes())
    except OSError as exc:
        raise ManifestError(f"{path}: unreadable ({exc})") from None


def photo_files(data):
    """The photos the manifest lists: complete on disk (a half-written one is never listed)."""
    return [p["file"] for p in data.get("photos") or [] if isinstance(p, dict) and p.get("file")]


def _section(data, key):
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _number(value):
    return float(value) if value is not None else None


@dataclass(frozen=True)
class ScanFacts:
    """What the other side reads from a manifest, as plain data."""
    angles: dict = field(default_factory=dict)   # photo name -> (rotor_deg, turntable_deg)
    camera_distance_mm: float = None             # rotation centre -> camera centre
    plate_z_mm: float = None                     # turntable top surface, turntable frame
    resolution: tuple = None                     # (width, height) of the photos
    calibration: dict = None                     # `openscan calibrate`: K, dist, image_size
    nominal_k: list = None                       # from lens/sensor data: a starting guess


def facts(raw):
    """ScanFacts of a manifest (text, bytes or dict); None for anything but a JSON object of a
    schema this version reads. Raises ManifestError for text that is not JSON."""
    data = _json(raw)
    if not isinstance(data, dict) or data.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
        return None   # an incompatible future schema: better no manifest than a wrong one
    angles = {}
    for photo in data.get("photos") or []:
        if not isinstance(photo, dict):
            continue
        name, rotor, table = photo.get("file"), photo.get("rotor_deg"), photo.get("turntable_deg")
        if name is not None and rotor is not None and table is not None:
            angles[str(name).rsplit("/", 1)[-1]] = (float(rotor), float(table))
    geometry, camera = _section(data, "geometry"), _section(data, "camera")
    res = camera.get("resolution")
    calibration = data.get("intrinsics")
    return ScanFacts(
        angles=angles,
        camera_distance_mm=_number(geometry.get("camera_distance_mm")),
        plate_z_mm=_number(geometry.get("turntable_surface_z_mm")),
        resolution=(int(res[0]), int(res[1])) if res and len(res) == 2 else None,
        calibration=calibration if isinstance(calibration, dict) and calibration.get("K") is not None else None,
        nominal_k=camera.get("nominal_K"),
    )
