"""The whole chain on the embedded defaults: a local backend, the simulated rig scans an object,
the upload queue sends it, the backend reconstructs it, the textured model lands in the scan
folder. Progress is shown all the way; Ctrl-C stops cleanly (the upload stays queued).

    scripts/demo [PHOTO_FOLDER] [--points 40] [--out demo]

Without PHOTO_FOLDER the simulated rig scans; with it, those photos are sent instead (linked
into OUT/scans/<name>, so the model never lands in your folder).
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

# what `openscan upload` sends; scripts/demo runs this file in .venv after scripts/setup
# installed the project (editable), so the package is importable here
from openscan_protocol.manifest import FILENAME as MANIFEST
from openscan_protocol.upload import PHOTO_SUFFIXES as IMAGES

ROOT = Path(__file__).resolve().parents[1]


def step(n, text):
    print(f"\n[{n}/4] {text}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_backend(data_dir: Path):
    port = free_port()
    log = open(data_dir / "server.log", "ab")
    server = subprocess.Popen([sys.executable, "-m", "cloud_backend.cli", "serve", "--host", "127.0.0.1",
                               "--port", str(port), "--data-dir", str(data_dir)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if requests.get(f"{url}/status", timeout=1).ok:
                return server, url
        except requests.RequestException:
            pass
        if server.poll() is not None:
            sys.exit(f"the backend did not start; see {data_dir / 'server.log'}")
        time.sleep(0.1)
    server.terminate()
    sys.exit("the backend did not answer within a minute")


def new_token(data_dir: Path) -> str:
    out = subprocess.run([sys.executable, "-m", "cloud_backend.cli", "--data-dir", str(data_dir), "token",
                          "create", "--mail", "demo@localhost"], capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"could not create a token: {out.stderr.strip()}")
    return out.stdout.strip().splitlines()[-1]


def openscan(*args, env):
    """An `openscan` subcommand with the terminal attached, so its progress bars show."""
    return subprocess.call([sys.executable, "-m", "openscan_plugin.cli", *map(str, args)], env=env, cwd=ROOT)


def link_photos(src: Path, dst: Path) -> int:
    photos = sorted(p for p in src.iterdir() if p.is_file() and p.suffix.lower() in IMAGES)
    if not photos:
        sys.exit(f"no .jpg/.jpeg/.png photos in {src}")
    dst.mkdir(parents=True)
    if (src / MANIFEST).is_file():   # a rig scan: its manifest helps the reconstruction
        photos.append(src / MANIFEST)
    for p in photos:
        try:
            os.link(p, dst / p.name)        # no copy of a big photo set when on the same disk
        except OSError:
            shutil.copy2(p, dst / p.name)
    return sum(p.suffix.lower() in IMAGES for p in photos)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="?", type=Path, help="a folder of photos instead of a simulated scan")
    parser.add_argument("--points", type=int, default=18, help="camera positions per ring of the simulated scan")
    # One ring below the equator sees the object's lower half: chamfer 0.32% of the
    # bbox diagonal against 0.55% for rings at 20,45 (bench/reconstruct.py on both scans).
    parser.add_argument("--rings", default="-10,25", help="rotor angles of the simulated scan's rings")
    parser.add_argument("--out", type=Path, default=ROOT / "demo")
    args = parser.parse_args()
    out = args.out.resolve()
    (out / "server").mkdir(parents=True, exist_ok=True)
    (out / "rig").mkdir(parents=True, exist_ok=True)

    step(1, "starting a local backend (openscan-cloud serve, SQLite + blob folder, embedded worker)")
    server, url = start_backend(out / "server")
    try:
        token = new_token(out / "server")
        print(f"      {url}, token {token}  (log: {out / 'server' / 'server.log'})")
        env = {**os.environ, "OPENSCAN_DATA_DIR": str(out / "rig"), "OPENSCAN_CONFIG": str(out / "rig" / "rig.json"),
               "OPENSCAN_SCANS_DIR": str(out / "scans")}
        (out / "rig" / "rig.json").write_text(json.dumps({"cloud": {"server": url, "token": token}}, indent=1))

        folder = out / "scans" / time.strftime("scan-%Y%m%d-%H%M%S")
        if args.photos:
            step(2, f"taking the photos from {args.photos}")
            print(f"      {link_photos(args.photos, folder)} photos linked into {folder}")
        else:
            step(2, f"the simulated rig scans an object: {args.points} positions on rings at "
                    f"{args.rings} deg -> {folder}")
            if openscan("scan", "--simulate", "--mode", "turntable", "--points", args.points,
                        f"--rings={args.rings}", "--out", folder, env=env):
                sys.exit("the scan failed")

        step(3, "upload queue -> backend -> reconstruction -> download (openscan upload)")
        started = time.monotonic()
        if openscan("upload", folder, env=env):
            sys.exit(f"the upload did not finish; `OPENSCAN_DATA_DIR={out / 'rig'} openscan status` shows it")
        print(f"      {time.monotonic() - started:.0f} s from the first byte to the model on the rig")

        step(4, f"the textured model is in {folder / 'model'}")
        for f in sorted((folder / "model").iterdir()):
            if f.is_file():
                print(f"      {f.name:<16} {f.stat().st_size / 1e3:>9.1f} kB")
        report = folder / "model" / "report.json"
        if report.exists():
            r = json.loads(report.read_text())
            print(f"      {r.get('images_registered')}/{r.get('images_given')} photos registered, "
                  f"reprojection error {r.get('reprojection_error_px', 0):.2f} px, units {r.get('units')}")
        print(f"\nSee it in the browser: OPENSCAN_DATA_DIR={out / 'rig'} OPENSCAN_CONFIG={out / 'rig' / 'rig.json'} "
              f"OPENSCAN_SCANS_DIR={out / 'scans'} openscan serve --port 8080  ->  http://127.0.0.1:8080/cloud/"
              "\n(the backend of this demo stops now; start one with `openscan-cloud serve` to upload more)")
    except KeyboardInterrupt:
        print("\nstopped", file=sys.stderr)
        sys.exit(130)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
