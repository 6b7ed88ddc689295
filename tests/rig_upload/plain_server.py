"""A server that speaks PROTOCOL.md and nothing more: parts only by POST (no tus HEAD/PATCH),
no Range on the result, no extra JSON fields. Like the original service, for checking that the
client's extensions are optional. In memory, served by werkzeug on a loopback thread."""
import io
import math
import threading
import zipfile

from flask import Flask, jsonify, request
from werkzeug.serving import make_server

PART = 100_000


def create_plain_app(token, refuse=None):
    """`refuse(args)`: a createProject error message (answered 400 {"error": ...}) or None."""
    app = Flask(__name__)
    projects = {}
    created = []            # every createProject's query string, as received
    result = io.BytesIO()
    with zipfile.ZipFile(result, "w") as zf:
        zf.writestr("model.obj", "v 0 0 0\n")

    def check():
        if request.authorization is None or request.authorization.password != "free":
            return jsonify(), 401
        if request.args.get("token") != token:
            return jsonify(), 400
        return None

    @app.get("/getTokenInfo")
    def token_info():
        return check() or jsonify(credit=10 ** 10, limit_filesize=10 ** 9, limit_photos=1000)

    @app.get("/createProject")
    def create():
        if (bad := check()) is not None:
            return bad
        created.append(request.query_string.decode())
        if refuse and (message := refuse(request.args)):
            return jsonify(error=message), 400
        name, size, parts = request.args["project"], int(request.args["filesize"]), int(request.args["parts"])
        if name in projects or parts != math.ceil(size / PART):
            return jsonify(), 400
        projects[name] = {"size": size, "parts": [None] * parts, "status": "created"}
        base = request.host_url
        return jsonify(status="created", credit=0, ulink=[f"{base}up/{name}/{i}" for i in range(parts)])

    @app.post("/up/<name>/<int:i>")
    def part(name, i):
        projects[name]["parts"][i] = request.get_data()
        return jsonify({"content-hash": "x"})

    @app.get("/getProjectInfo")
    def info():
        if (bad := check()) is not None:
            return bad
        p = projects.get(request.args["project"])
        if p is None:
            return jsonify(), 401
        if p["status"] == "initialized":          # "reconstructs" by the next poll
            p["status"] = "processing done"
        dlink = f"{request.host_url}result.zip" if p["status"] == "processing done" else ""
        return jsonify(status=p["status"], dlink=dlink, ulink=[])

    @app.get("/startProject")
    def start():
        if (bad := check()) is not None:
            return bad
        p = projects[request.args["project"]]
        if any(x is None for x in p["parts"]):
            return jsonify(), 400
        p["status"] = "initialized"
        return jsonify(status="initialized")

    @app.get("/result.zip")
    def download():
        return result.getvalue(), 200, {"Content-Type": "application/zip"}   # no Range support

    app.projects, app.created = projects, created
    return app


class PlainServer:
    def __init__(self, token, refuse=None):
        self.app = create_plain_app(token, refuse)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def zip_bytes(self, name):
        return b"".join(self.app.projects[name]["parts"])

    def stop(self):
        self.server.shutdown()
