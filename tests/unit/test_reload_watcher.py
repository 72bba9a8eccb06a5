"""reload.Watcher: the files it was given, and the .py files of its
folders, those that appear later too."""

from pywsgi_embed import reload


def test_a_given_file_and_a_python_file_beside_it_are_watched(tmp_path):
    app = tmp_path / "app.py"
    app.write_text("a = 1\n")
    views = tmp_path / "views.py"
    views.write_text("v = 1\n")
    (tmp_path / "notes.txt").write_text("x")
    watcher = reload.Watcher([str(app)], [str(tmp_path)])
    assert watcher.changed() == []
    views.write_text("v = 22\n")
    assert watcher.changed() == [str(views)]
    (tmp_path / "notes.txt").write_text("xy")  # not Python: not watched
    assert watcher.changed() == []


def test_a_python_file_new_in_a_folder_counts_as_changed(tmp_path):
    watcher = reload.Watcher([], [str(tmp_path)])
    assert watcher.changed() == []
    new = tmp_path / "later.py"
    new.write_text("x = 1\n")
    assert watcher.changed() == [str(new)]
    assert watcher.changed() == []
    new.unlink()
    assert watcher.changed() == [str(new)]


def test_a_folder_that_goes_away_is_no_error(tmp_path):
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "m.py").write_text("")
    watcher = reload.Watcher([], [str(folder)])
    (folder / "m.py").unlink()
    folder.rmdir()
    assert watcher.changed() == [str(folder / "m.py")]
