"""The uploaded zip's layout, one rule for the rig that builds it and the server that checks
and unpacks it: photos flat at the root, an optional `manifest.json` from the rig, optional
object masks `masks/<photo name>.png` or `masks/<photo stem>.png` (COLMAP's convention)."""
from dataclasses import dataclass, field
from posixpath import splitext

from .manifest import FILENAME

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
MANIFEST = FILENAME                # the rig's scan metadata
MASKS_DIR = "masks/"
MASK_SUFFIX = ".png"
PART_SIZE = 200_000_000           # the default slice: parts are raw byte ranges of the zip


class LayoutError(ValueError):
    """The zip's names break the layout; the message names the entry."""


def is_photo(name):
    return "/" not in name and name.lower().endswith(PHOTO_SUFFIXES)


@dataclass
class Layout:
    photos: list = field(default_factory=list)    # entry names, in zip order
    masks: dict = field(default_factory=dict)     # mask entry name -> the photo it masks
    manifest: bool = False


def mask_target(mask_name, photos):
    """The photo `masks/<name>` belongs to (`a.jpg.png` or `a.png` for `a.jpg`), or None."""
    name = mask_name[len(MASKS_DIR):]
    if name[:-len(MASK_SUFFIX)] in photos:
        return name[:-len(MASK_SUFFIX)]
    stem = splitext(name)[0]
    return next((p for p in sorted(photos) if splitext(p)[0] == stem), None)


def sort_names(names):
    """Sort the zip's entry names into photos, masks and the manifest, or raise LayoutError."""
    layout, seen, masks = Layout(), set(), []
    for name in names:
        if name.startswith("/") or "\\" in name or ".." in name.split("/") or ":" in name:
            raise LayoutError(f"unsafe path in zip: {name!r}")
        if name in seen:
            raise LayoutError(f"the zip holds {name!r} twice")
        seen.add(name)
        in_masks = name.startswith(MASKS_DIR) and name.count("/") == 1
        if name == MASKS_DIR:             # the folder's own entry (`zip -r` writes one)
            continue
        if "/" in name and not in_masks:
            raise LayoutError(f"images must lie flat at the root of the zip, not in folders: {name!r}")
        if name == MANIFEST:
            layout.manifest = True
        elif in_masks and name.lower().endswith(MASK_SUFFIX):
            masks.append(name)
        elif is_photo(name):
            layout.photos.append(name)
        else:
            raise LayoutError(f"only .jpg, .jpeg and .png images are accepted "
                              f"(and .png masks in {MASKS_DIR}), not {name!r}")
    photos = set(layout.photos)
    for name in masks:
        target = mask_target(name, photos)
        if target is None:
            raise LayoutError(f"{name!r} masks no photo in the zip (a mask is named after its photo: "
                              f"{MASKS_DIR}<photo name>{MASK_SUFFIX} or {MASKS_DIR}<photo stem>{MASK_SUFFIX})")
        if target in layout.masks.values():
            raise LayoutError(f"{target!r} has two masks")
        layout.masks[name] = target
    return layout
