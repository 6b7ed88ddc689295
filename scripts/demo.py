"""Drive one project through a local `openscan-cloud serve`, printing its status as it changes.

    scripts/demo [PHOTO_FOLDER] [--out demo]

PHOTO_FOLDER defaults to ../shared/datasets/middlebury_templeRing/images.
"""
import argparse
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PHOTOS = ROOT.parent / "shared" / "datasets" / "middlebury_templeRing" / "images"
AUTH = ("openscan", "free")
PART = 200_000_000


def start_server(data_dir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(data_dir / "server.log", "ab")
    server = subprocess.Popen([sys.executable, "-m", "cloud_backend.cli", "serve", "--port",
                               str(port), "--data-dir", str(data_dir)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            requests.get(f"{url}/status", timeout=1).raise_for_status()
            return server, url
        except requests.RequestException:
            if server.poll() is not None:
                sys.exit(f"the server did not start; see {data_dir / 'server.log'}")
            time.sleep(0.1)
    sys.exit("the server did not answer within a minute")


def new_token(data_dir):
    out = subprocess.run([sys.executable, "-m", "cloud_backend.cli", "--data-dir", str(data_dir),
                          "token", "create", "--mail", "demo@localhost"],
                         capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1]


def call(url, endpoint, **params):
    r = requests.get(f"{url}/{endpoint}", params=params, auth=AUTH, timeout=60)
    if r.status_code != 200:
        sys.exit(f"{endpoint}: {r.status_code} {r.json().get('error', r.text)}")
    return r.json()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="?", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--out", type=Path, default=ROOT / "demo")
    args = parser.parse_args()
    photos = sorted(p for p in args.photos.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not photos:
        sys.exit(f"no .jpg/.png photos in {args.photos}; give a folder of photos")
    data_dir = args.out / "server"
    data_dir.mkdir(parents=True, exist_ok=True)
    server, url = start_server(data_dir)
    try:
        token, name = new_token(data_dir), f"{int(time.time())}-{args.photos.name}.zip"
        print(f"server {url}, token {token}")
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / name
            with zipfile.ZipFile(archive, "w") as zf:
                for p in photos:
                    zf.write(p, p.name)
            size = archive.stat().st_size
            links = call(url, "createProject", token=token, project=name, photos=len(photos),
                         parts=math.ceil(size / PART), filesize=size)["ulink"]
            with open(archive, "rb") as f:
                for i, link in enumerate(links):
                    requests.post(link, data=f.read(PART), timeout=600).raise_for_status()
                    print(f"uploaded part {i + 1}/{len(links)}")
        call(url, "startProject", token=token, project=name)
        last, started = None, time.monotonic()
        while True:
            info = call(url, "getProjectInfo", token=token, project=name)
            line = f"{info['status']}: {info['stage']} {info['progress']:.0f}%"
            if line != last:
                print(f"[{time.monotonic() - started:6.1f}s] {line}", flush=True)
                last = line
            if info["status"] in ("processing done", "processing failed", "expired"):
                break
            time.sleep(1)
        if info["status"] != "processing done":
            sys.exit(f"failed: {info['error']}")
        result = args.out / name.removesuffix(".zip")
        result.mkdir(parents=True, exist_ok=True)
        with open(result / "result.zip", "wb") as f:
            f.write(requests.get(info["dlink"], timeout=600).content)
        zipfile.ZipFile(result / "result.zip").extractall(result)
        print(f"model in {result}: {', '.join(sorted(os.listdir(result)))}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
