"""An unmodified rig reaches our server under the original service's host name (docs/deployment.md,
"A rig finds our server"): the Pi's /etc/hosts maps the name to our box, which serves it with
PUBLIC_URL on that name. Here the name is mapped in-process instead of in /etc/hosts."""
import socket

import pytest
import requests

from . import server as server_module
from .helpers import make_zip

ORIGINAL_HOST = "openscanfeedback.dnsuser.de"  # hard-coded in the field clients, with port 1334


@pytest.fixture
def hosts_override(monkeypatch):
    """/etc/hosts on the Pi: the original host name resolves to our server."""
    resolve = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        return resolve("127.0.0.1" if host == ORIGINAL_HOST else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_the_old_uploader_works_against_our_server_under_the_original_name(
        start_server, hosts_override, tmp_path, monkeypatch):
    port = server_module.free_port()  # the real setup serves on 1334
    monkeypatch.setattr(server_module, "free_port", lambda: port)
    public = f"http://{ORIGINAL_HOST}:{port}"
    server = start_server({"PUBLIC_URL": public}, worker=False)
    server_url = public + "/"  # what the clients hard-code: 'http://openscanfeedback.dnsuser.de:1334/'
    data = make_zip(tmp_path / "scan.zip").read_bytes()
    msg = {"token": server.token()}

    def cloud(cmd, **params):  # the old uploader.py's OpenScanCloud(cmd, msg)
        return requests.get(server_url + cmd, auth=("openscan", "free"), params={**msg, **params},
                            timeout=30)

    assert cloud("getTokenInfo").status_code == 200
    created = cloud("createProject", project="owl.zip", photos=3, parts=1, filesize=len(data))
    assert created.status_code == 200, created.text
    [link] = created.json()["ulink"]
    assert link.startswith(public + "/")  # the rig reaches the links under the same name
    assert requests.post(link, data=data, timeout=30).status_code == 200
    assert cloud("startProject", project="owl.zip").json() == {"status": "initialized"}
