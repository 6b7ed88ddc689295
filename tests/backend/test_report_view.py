"""The result's report.html in a browser straight from the server: the dlink's signature opens
`/download/<uid>/report.html`, served sandboxed (no script runs with the server's origin), and
only for the project the signature was made for."""
import requests

from .helpers import Client, make_zip
from .server import cli
from .test_jobs import PIPELINE, done, watch

CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def test_the_report_opens_sandboxed_and_only_with_its_own_signature(start_server, tmp_path):
    server = start_server({**PIPELINE, "PHOTO_GRACE_HOURS": 0})
    client = Client(server.url, server.token())
    data = make_zip(tmp_path / "s.zip", photos=3).read_bytes()
    for name in ("owl.zip", "vase.zip"):
        client.upload_all(name, data, 200_000_000)
    owl, vase = (watch(client, name, done)[-1] for name in ("owl.zip", "vase.zip"))
    assert owl["status"] == vase["status"] == "processing done"
    assert owl["report"] == owl["dlink"].replace("/result.zip?", "/report.html?")

    r = requests.get(owl["report"])
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "fake report" in r.text
    assert r.headers["Content-Security-Policy"] == CSP and r.headers["X-Content-Type-Options"] == "nosniff"
    # viewing the report is not a delivery: without consent and a grace of 0 the photos stay
    cli(server.data_dir, "project", "expire", env=server._cloud_env())   # the housekeeping sweep
    assert client.call("getProjectInfo", project="owl.zip").json()["photos_kept"] is True

    # hostile: a forged signature, and owl's signature on vase's result
    forged = owl["report"].rsplit("sig=", 1)[0] + "sig=" + "A" * 40
    other = vase["report"].split("?")[0] + "?" + owl["report"].split("?")[1]
    for url in (forged, other, owl["report"].split("?")[0]):
        r = requests.get(url)
        assert r.status_code == 403 and r.json()["error"], url
