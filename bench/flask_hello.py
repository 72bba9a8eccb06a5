"""The hello world of bench/hello_app.py as a Flask view
(bench/peers_bench.py)."""

from flask import Flask, Response

app = Flask(__name__)


@app.route("/")
def hello():
    return Response(b"Hello, World!\n", content_type="text/plain")


application = app
