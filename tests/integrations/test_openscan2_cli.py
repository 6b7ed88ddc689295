"""`openscan integrate openscan2` without Node-RED: the printed flow is whole (every wire and
group points at a node of the flow, all on the flow's tab) and an unreachable Node-RED is a
clear error line, not a traceback."""
import json
import subprocess
import sys

from tests.backend.server import free_port


def integrate(*args):
    return subprocess.run([sys.executable, "-m", "openscan_plugin.cli", "integrate", "openscan2", *args],
                          capture_output=True, text=True, timeout=60)


def test_printed_flow_is_whole_and_points_at_the_daemon():
    out = integrate("--print", "--daemon-url", "http://127.0.0.1:9123/")
    assert out.returncode == 0, out.stderr
    nodes = json.loads(out.stdout)
    ids = {n["id"] for n in nodes}
    assert len(ids) == len(nodes)
    tab = next(n for n in nodes if n["type"] == "tab")
    assert {"name": "OPENSCAN_DAEMON", "value": "http://127.0.0.1:9123", "type": "str"} in tab["env"]
    for n in nodes:
        if "wires" in n:
            assert n["z"] == tab["id"], n["id"]
            assert all(w in ids for port in n["wires"] for w in port), n["id"]
        for ref in ("group", "tab"):
            assert ref not in n or n[ref] in ids, n["id"]
    # the flow calls the daemon only, from function nodes that build the request
    requests = [n for n in nodes if n["type"] == "http request"]
    assert requests and all(n["url"] == "" and n["method"] == "use" for n in requests)


def test_unreachable_node_red_is_a_clear_error():
    out = integrate("--node-red-url", f"http://127.0.0.1:{free_port()}")
    assert out.returncode == 1 and "cannot reach Node-RED" in out.stderr and "Traceback" not in out.stderr
