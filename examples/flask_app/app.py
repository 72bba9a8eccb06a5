"""A Flask example: `pywsgi-embed serve examples/flask_app/app.py:app`.

Flask's app object is the WSGI callable; the file's folder is put on
sys.path, so modules beside it import."""

from flask import Flask, request

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello from Flask inside %s!\n" % request.environ.get(
        "SERVER_SOFTWARE"
    ), {"Content-Type": "text/plain"}


@app.route("/upload", methods=["POST"])
def upload():
    got = request.files.get("file")
    if got is None:
        return "POST a file field named 'file'\n", 400
    return "%d\n" % len(got.read())
