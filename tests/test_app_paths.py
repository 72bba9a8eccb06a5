"""A relative app file in a server's config is found next to the config,
on both servers alike, whatever the server's working directory (nginx: the
config prefix, as ngx_conf_full_name resolves every relative path of
nginx.conf; Apache: the directory of the file the PyWSGIApp is in, not
ServerRoot)."""

import os

from tests import harness

APP_TEXT = (
    "def application(environ, start_response):\n"
    "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
    "    return [b'found next to the config']\n"
)


def test_nginx_resolves_a_relative_app_against_its_config(
    tmp_path, monkeypatch
):
    workdir = tmp_path / "srv"
    workdir.mkdir()
    (workdir / "rel_app.py").write_text(APP_TEXT)
    monkeypatch.chdir(tmp_path)  # the server's cwd is not the config's dir
    running = harness.start("nginx", {"/": "rel_app.py"}, str(workdir))
    try:
        assert harness.fetch(running.url("/x")) == (
            200,
            b"found next to the config",
        )
    finally:
        running.kill()


def test_apache_resolves_a_relative_app_against_the_directive_file(
    tmp_path, monkeypatch
):
    workdir = tmp_path / "srv"
    sub = workdir / "sites"
    sub.mkdir(parents=True)
    (sub / "rel_app.py").write_text(APP_TEXT)
    (sub / "apps.conf").write_text("PyWSGIApp /rel rel_app.py:application\n")
    monkeypatch.chdir(tmp_path)
    running = harness.start(
        "apache",
        {"/": os.path.join(harness.APPS, "apache_app.py")},
        str(workdir),
        extra_config="Include %s" % (sub / "apps.conf"),
    )
    try:
        assert harness.fetch(running.url("/rel/x")) == (
            200,
            b"found next to the config",
        )
    finally:
        running.kill()


def test_a_bad_spec_is_refused_at_config_time_on_both_servers(tmp_path):
    for name in ("nginx", "apache"):
        options = harness.servers.Options(
            mounts=[harness.Mount("/", "pkg.mod:not-a-name")],
            port=harness.free_port(),
        )
        server = harness.servers.get(name)(options, str(tmp_path / name))
        problem = server.check_config(server.write_config())
        assert problem and "not a Python name" in problem, (name, problem)
