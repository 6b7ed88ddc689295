"""Stage 1 — unpack the upload into `images/` (+ `masks/`) and describe it in `ingest.json`.

Applies EXIF orientation (SfM must see the pixels the way the camera
metadata says), drops unreadable and duplicate photos with a reason each,
keeps object masks (`masks/<image name>.png` in the zip, COLMAP's convention)
and normalises the rig manifest when there is one.
"""
import hashlib
import io
import json
import pathlib
import shutil

import cv2
from PIL import Image, ImageOps

from .. import archive
from . import manifest as manifest_mod
from .errors import ReconstructionError
from .layout import Layout
from .stage import fresh_dir, no_progress, write_json

EXIF_ORIENTATION = 0x0112


def main(work_dir, options, progress=no_progress, zip_file=None):
    """Reads the zip through archive.Upload: the entry rules of startProject and of the job's
    check (names, layout, image headers, trailers). The server's size limits were applied by
    the job's check before the pipeline started, so they are not repeated here."""
    work_dir = pathlib.Path(work_dir)
    images_dir = fresh_dir(work_dir / "images")
    masks_dir = fresh_dir(work_dir / "masks")
    try:
        with archive.Upload(zip_file) as upload:
            manifest, manifest_note = _read_manifest(upload)
            used, skipped, seen = [], [], {}
            photos = sorted(upload.photos, key=lambda e: e.filename)
            for i, entry in enumerate(photos):
                reason = _store_image(upload.read(entry), entry.filename, images_dir, seen, used)
                if reason:
                    skipped.append({"name": entry.filename, "reason": reason})
                progress(0.9 * (i + 1) / len(photos))
            masks = _store_masks(upload, masks_dir, used)
    except archive.ArchiveError as exc:
        raise ReconstructionError(str(exc)) from None
    if len(used) < 3:
        raise ReconstructionError(
            f"only {len(used)} usable images in the upload (at least 3 are needed); "
            + (f"skipped: {', '.join(s['name'] + ' (' + s['reason'] + ')' for s in skipped)}" if skipped else "no photos found")
        )
    if not masks:
        shutil.rmtree(masks_dir)
    info = {
        "images": used,
        "skipped": skipped,
        "images_given": len(photos),
        "masks": masks,
        "manifest": manifest.to_dict() if manifest else None,
        "manifest_note": manifest_note,
    }
    write_json(Layout(work_dir).ingest, info)
    progress(1.0)
    return {"images_given": len(photos), "images_used": len(used), "skipped": len(skipped)}


def read(path):
    """What ingest wrote: the dict of ingest.json, with `manifest` as a RigPrior (or None)."""
    info = json.loads(pathlib.Path(path).read_text())
    info["manifest"] = manifest_mod.RigPrior.from_dict(info["manifest"]) if info["manifest"] else None
    return info


def uses_masks(info, options):
    """Whether the later stages use the upload's object masks ('off': they are ignored)."""
    return bool(info["masks"]) and options["masking"] != "off"


def read_mask(masks_dir, image):
    """The object mask of a pycolmap image at its camera's size (non-zero = object), or None."""
    path = pathlib.Path(masks_dir) / f"{image.name}.png"
    if not path.exists():
        return None
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    return cv2.resize(mask, (image.camera.width, image.camera.height), interpolation=cv2.INTER_NEAREST)


def _read_manifest(upload):
    if upload.manifest is None:
        return None, "no manifest"
    try:
        manifest = manifest_mod.parse(upload.read(upload.manifest))
    except (ValueError, TypeError) as exc:
        return None, f"manifest.json ignored: not valid JSON ({exc})"
    return manifest, "used" if manifest else "manifest.json ignored: no angles or intrinsics in it"


def _store_image(data, name, images_dir, seen, used):
    """Write one photo; return a reason string when it is skipped."""
    digest = hashlib.sha256(data).hexdigest()
    if digest in seen:
        return f"duplicate of {seen[digest]}"
    if name in used:
        return "same file name as another photo"
    try:
        with Image.open(io.BytesIO(data)) as img:
            orientation = img.getexif().get(EXIF_ORIENTATION, 1)
            img.load()   # decode fully: truncated files fail here, not in SIFT
            if orientation != 1:
                img = ImageOps.exif_transpose(img)
                img.convert("RGB").save(images_dir / name, quality=95)
            else:
                (images_dir / name).write_bytes(data)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        return f"unreadable image ({exc.__class__.__name__})"
    seen[digest] = name
    used.append(name)
    return None


def _store_masks(upload, masks_dir, used):
    """Each mask under its photo's name + `.png`; the zip check matched masks to photos
    (openscan_protocol.upload), masks of skipped photos are dropped with them."""
    stored = 0
    for entry in upload.masks:
        target = upload.mask_targets[entry.filename]
        if target in used:
            (masks_dir / f"{target}.png").write_bytes(upload.read(entry))
            stored += 1
    return stored
