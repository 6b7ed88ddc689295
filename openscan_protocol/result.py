"""The result zip a finished project offers as `dlink`, and the files the rig shows from it."""

OBJ = "model.obj"
MTL = "model.mtl"
TEXTURE = "texture.png"
GLB = "model.glb"
STL = "model.stl"          # print-ready: binary, millimetres when the scale is known, watertight
PLY = "model.ply"          # the fused dense points
PREVIEW = "preview.png"
REPORT = "report.json"
REPORT_HTML = "report.html"  # self-contained visual report, opens offline

# How either half serves a result's files to a browser: they come from a server the viewer need
# not trust, so report.html must not run a script with the serving site's origin (on the rig it
# would drive the motors). Sandboxed it is an opaque origin without script; the report needs
# none (inline CSS and SVG, data: images).
RESULT_FILE_CSP = ("sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                   "base-uri 'none'; form-action 'none'")

MODEL_FILES = (OBJ, MTL, TEXTURE, GLB)                 # the textured model itself
SHOWN_FILES = (PREVIEW, GLB, OBJ, MTL, TEXTURE, STL, PLY, REPORT, REPORT_HTML)  # what the rig's panel serves

# The `formats` a scan may ask for (createProject's `formats`, comma-separated) and the files each
# one puts in the result zip; preview.png, report.json and report.html are always there.
FORMATS = {
    "obj": (OBJ, MTL, TEXTURE),
    "glb": (GLB,),
    "stl": (STL,),
    "ply": (PLY,),
}
DEFAULT_FORMATS = ("obj", "glb", "stl", "ply")
