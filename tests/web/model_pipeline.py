"""The fast stand-in reconstruction (tests.backend.fake_pipeline) plus what the real pipeline
also delivers and the scan page shows: a model.glb (an open3d sphere) and a preview.png.
Runs inside the backend's job process: PIPELINE=tests.web.model_pipeline."""
import zipfile

from tests.backend import fake_pipeline


def run(zip_file, work_dir, options=None, progress=None):
    import cv2
    import numpy as np
    import open3d as o3d
    result = fake_pipeline.run(zip_file, work_dir, options, progress)
    sphere = o3d.geometry.TriangleMesh.create_sphere(10, 12)
    sphere.compute_vertex_normals()
    glb = f"{work_dir}/model.glb"
    o3d.io.write_triangle_mesh(glb, sphere)
    preview = np.full((240, 320, 3), 235, np.uint8)
    cv2.circle(preview, (160, 120), 80, (90, 120, 200), -1)
    _, png = cv2.imencode(".png", preview)
    with zipfile.ZipFile(result, "a") as zf:
        zf.write(glb, "model.glb")
        zf.writestr("preview.png", png.tobytes())
    return result
