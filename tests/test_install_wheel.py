"""The installed package (not the checkout) finds its data: ./data/mnist, $TINYGRAD_CNN_DATA,
the user cache (XDG rules); --download writes to the cache, never into site-packages.

The wheel test builds the wheel from a copy of the sources, installs it with --no-deps into a
fresh venv (which reads NumPy from this interpreter's site-packages through a .pth line, so
nothing is downloaded) and runs `tinygrad-cnn` from a temporary folder (about 6 s: wheel build,
venv, a 256-image training run). The tests before it check the same discovery rules in-process
with the checkout hidden.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.data import MNIST, DatasetNotFoundError
from tinygrad_cnn.data import mnist as data_mnist

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = REPO / "data" / "mnist"
TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@pytest.fixture
def installed_like(monkeypatch, tmp_path):
    """MNIST as an installed package sees it: no checkout, an empty cwd, cache under tmp_path."""
    monkeypatch.setattr(data_mnist, "_REPO", tmp_path / "site-packages-parent")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("TINYGRAD_CNN_DATA", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def _link_test_files(folder: Path) -> None:
    folder.mkdir(parents=True)
    for name in TEST_FILES:
        (folder / name).symlink_to(MNIST_DIR / name)


@pytest.mark.parametrize("where", ["cwd", "env", "cache"])
def test_installed_discovery_finds_each_place(installed_like, monkeypatch, where):
    folder = {"cwd": installed_like / "work" / "data" / "mnist",
              "env": installed_like / "mine" / "mnist",
              "cache": installed_like / "xdg-cache" / "tinygrad_cnn" / "mnist"}[where]
    if where == "env":
        monkeypatch.setenv("TINYGRAD_CNN_DATA", str(installed_like / "mine"))
    _link_test_files(folder)
    assert MNIST.find(train=False) == folder


def test_cache_follows_xdg_rules(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data_mnist.user_cache_dir() == tmp_path / "tinygrad_cnn"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")          # XDG: ignore relative paths
    assert data_mnist.user_cache_dir() == Path.home() / ".cache" / "tinygrad_cnn"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data_mnist.user_cache_dir() == Path.home() / ".cache" / "tinygrad_cnn"


def test_download_goes_to_the_cache_not_the_package(installed_like, monkeypatch):
    fetched = []
    monkeypatch.setattr(MNIST, "download", classmethod(lambda cls, root, names=None, quiet=False:
                                                       fetched.append(Path(root))))
    with pytest.raises(DatasetNotFoundError):      # the fake download fetched nothing
        MNIST.find(train=False, download=True)
    assert fetched == [installed_like / "xdg-cache" / "tinygrad_cnn" / "mnist"]
    package = Path(tc.__file__).resolve().parent
    assert package not in fetched[0].parents


def test_nothing_found_lists_the_places_and_three_fixes(installed_like):
    with pytest.raises(DatasetNotFoundError) as e:
        MNIST.find(train=False)
    msg = str(e.value)
    for place in (installed_like / "work" / "data" / "mnist",
                  installed_like / "xdg-cache" / "tinygrad_cnn" / "mnist"):
        assert f"  {place}  (no such folder)" in msg
    assert str(installed_like / "site-packages-parent") not in msg      # no checkout paths
    assert "1. pass the folder" in msg and "2. put them in ./data/mnist" in msg and "3. --download" in msg


def _build_and_install(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "tinygrad_cnn", src / "tinygrad_cnn",
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "-q", "-w", str(tmp_path / "dist"), str(src)],
                   check=True, capture_output=True, timeout=300)
    wheel, = (tmp_path / "dist").glob("tinygrad_cnn-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # without PYTHONPATH: a checkout on it would make pip think the package is installed already
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                    "--no-index", "--force-reinstall", "-q", str(wheel)], check=True,
                   capture_output=True, timeout=300, env=clean)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # NumPy and graphviz from this interpreter (appended after the venv's own site-packages)
    (Path(site) / "parent_site.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_wheel_installed_in_a_fresh_venv_trains_from_any_folder(tmp_path):
    venv = _build_and_install(tmp_path)
    work = tmp_path / "anywhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TINYGRAD_CNN_DATA")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    exe = str(venv / "bin" / "tinygrad-cnn")
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import tinygrad_cnn; print(tinygrad_cnn.__file__)"],
                           capture_output=True, text=True, cwd=work, env=env, timeout=120)
    assert str(venv) in where.stdout                 # the installed copy, not the checkout

    missing = subprocess.run([exe, "train"], capture_output=True, text=True, cwd=work, env=env, timeout=120)
    assert missing.returncode == 2 and "Looked in:" in missing.stderr
    assert str(tmp_path / "cache" / "tinygrad_cnn" / "mnist") in missing.stderr
    assert str(REPO) not in missing.stderr           # the installed package knows no checkout

    cache = tmp_path / "cache" / "tinygrad_cnn" / "mnist"
    cache.mkdir(parents=True)
    for f in MNIST_DIR.glob("*.gz"):
        (cache / f.name).symlink_to(f)
    run = subprocess.run([exe, "train", "--limit-train", "256", "--valid-size", "128",
                          "--limit-test", "128", "--epochs", "1"],
                         capture_output=True, text=True, cwd=work, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    assert f"({cache})" in run.stdout and "test accuracy" in run.stdout
    assert not list(Path(where.stdout.strip()).parent.rglob("*.gz"))     # nothing in site-packages
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, env=env, timeout=60)
    assert version.stdout.strip() == f"tinygrad-cnn {tc.__version__}"
