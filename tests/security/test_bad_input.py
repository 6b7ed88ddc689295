"""Hostile input gets a clear 4xx, never a 500 (issue 13.7): a manifest nested too deeply for
the JSON parser, and a spoofed Host header that would put our links on someone else's server."""
import requests

from cloud_backend.config import DEFAULTS

from ..backend.helpers import AUTH, Client, make_zip

DEEP = b"[" * 200_000 + b"]" * 200_000  # a 400 KB manifest.json, nested 200,000 deep


def test_deeply_nested_manifest_is_refused_with_400(client, tmp_path):
    data = make_zip(tmp_path / "s.zip", extra=[("manifest.json", DEEP)]).read_bytes()
    r = client.upload_all("deep.zip", data, 200_000_000)
    assert r.status_code == 400 and "manifest.json" in r.json()["error"], r.text


def create(server, token, host, name):
    return requests.get(f"{server.url}/createProject", auth=AUTH, headers={"Host": host}, params={
        "token": token, "project": name, "photos": 1, "parts": 1, "filesize": 10})


def test_links_follow_only_trusted_host_names(start_server):
    server = start_server({"ALLOWED_HOSTS": "scanner.example, 192.168.1.5"}, worker=False)
    token = server.token()
    r = create(server, token, "evil.example", "a.zip")
    assert r.status_code == 400 and "PUBLIC_URL" in r.json()["error"]
    info = requests.get(f"{server.url}/getProjectInfo", auth=AUTH, headers={"Host": "evil.example"},
                        params={"token": token, "project": "a.zip"})
    assert info.status_code == 401  # nothing was created (nor charged) by the refused call
    for host in ["scanner.example:1334", "192.168.1.5", f"localhost:{server.port}"]:
        r = create(server, token, host, f"{host}.zip")
        assert r.status_code == 200 and r.json()["ulink"][0].startswith(f"http://{host}/"), r.text
    credit = Client(server.url, token).call("getTokenInfo").json()["credit"]
    assert credit == DEFAULTS["DEFAULT_CREDIT"] - 3 * 10


def test_public_url_wins_over_any_host_header(start_server):
    server = start_server({"PUBLIC_URL": "https://scan.example/"}, worker=False)
    r = create(server, server.token(), "evil.example", "a.zip")
    assert r.status_code == 200 and r.json()["ulink"][0].startswith("https://scan.example/upload/")
