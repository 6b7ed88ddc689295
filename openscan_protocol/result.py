"""The result zip a finished project offers as `dlink`, and the files the rig shows from it."""

OBJ = "model.obj"
MTL = "model.mtl"
TEXTURE = "texture.png"
GLB = "model.glb"
PREVIEW = "preview.png"
REPORT = "report.json"

MODEL_FILES = (OBJ, MTL, TEXTURE, GLB)                 # the textured model itself
SHOWN_FILES = (PREVIEW, GLB, OBJ, MTL, TEXTURE, REPORT)  # what the rig's panel serves
