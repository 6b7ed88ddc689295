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
