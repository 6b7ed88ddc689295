"""The work folder of one reconstruction: where each stage's inputs and outputs live.

The pipeline builds one Layout per job and hands every stage the paths it reads and
writes (hloc's habit: steps over explicit paths), so no stage knows another's files.
"""
import dataclasses
import pathlib


@dataclasses.dataclass(frozen=True)
class Layout:
    work: pathlib.Path

    def __post_init__(self):
        object.__setattr__(self, "work", pathlib.Path(self.work))

    def marker(self, stage):
        """`<stage>.done.json`: the stage's stats, written last (stage.mark_done)."""
        return self.work / f"{stage}.done.json"

    # ingest
    images = property(lambda self: self.work / "images")
    masks = property(lambda self: self.work / "masks")
    ingest = property(lambda self: self.work / "ingest.json")
    # features
    features = property(lambda self: self.work / "features")
    database = property(lambda self: self.features / "database.db")
    view_graph = property(lambda self: self.features / "view_graph.npz")
    pairs = property(lambda self: self.features / "pairs.txt")
    cameras = property(lambda self: self.features / "cameras.json")
    # sfm
    sparse = property(lambda self: self.work / "sparse")
    frame = property(lambda self: self.sparse / "frame.json")
    sfm_scratch = property(lambda self: self.work / "sfm_models")
    # dense
    dense = property(lambda self: self.work / "dense")
    fused = property(lambda self: self.dense / "fused.ply")
    # mesh
    mesh = property(lambda self: self.work / "mesh" / "mesh.ply")
    closed_mesh = property(lambda self: self.work / "mesh" / "closed.ply")   # for the print solid
    # texture
    texture = property(lambda self: self.work / "texture")
    textured = property(lambda self: self.texture / "textured.npz")
    texture_image = property(lambda self: self.texture / "texture.png")
    # export
    export = property(lambda self: self.work / "export")
    result = property(lambda self: self.work / "result.zip")
