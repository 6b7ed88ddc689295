"""No secret in any log the server writes (issue 13.6): tokens travel as ``?token=`` and upload
links carry ``sig=``; the access log must not keep either."""
import re

import requests

from ..backend.helpers import AUTH, Client, make_zip, slices


HOOK = "http://127.0.0.1:9/services/T0/B0/hook-credential-123"   # a Slack-style URL is a secret


def test_server_log_has_no_tokens_or_signatures(start_server, tmp_path):
    server = start_server({"PART_SIZE": 1000, "WEBHOOK_ALLOW_PRIVATE": True}, worker=False)
    client = Client(server.url, server.token())
    data = make_zip(tmp_path / "s.zip").read_bytes()
    links = client.create("owl.zip", data, 1000, webhook=HOOK)["ulink"]
    for link, part in zip(links, slices(data, 1000)):
        assert requests.post(link, data=part).status_code == 200
    assert requests.head(links[0]).status_code == 200
    client.call("getProjectInfo", project="owl.zip")
    requests.get(f"{server.url}/getTokenInfo", params={"token": client.token}, auth=AUTH,
                 headers={"Referer": f"http://panel.local/?token={client.token}"})
    client.call("getTokenInfo", token="A" * 32)  # an unknown token is a secret too
    assert client.call("rerunProject", project="owl.zip", webhook=HOOK).status_code == 409  # not finished
    server.stop()

    log = (server.data_dir / "server.log").read_text()
    assert "/upload/" in log and "/getTokenInfo?token=***" in log  # the lines are there...
    sigs = [link.split("sig=")[1] for link in links]
    assert "/rerunProject?" in log
    for secret in [client.token, "A" * 32, *sigs, *[s.split(".")[-1] for s in sigs], "hook-credential-123"]:
        assert secret not in log  # ...without the secrets
    assert not re.search(r"(token|sig|webhook)=(?!\*\*\*)", log)
