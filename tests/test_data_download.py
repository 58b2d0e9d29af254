"""MNIST(download=True) against a local HTTP server on 127.0.0.1 started here (never the internet):
mirror fallback, checksum verification, atomic rename, resuming a partial download."""
import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tinygrad_cnn.data import MNIST, DownloadError
from tinygrad_cnn.data.mnist import download_file

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = REPO / "data" / "mnist"
TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


class _Handler(BaseHTTPRequestHandler):
    """/good/NAME: the real file (Range supported); /corrupt/NAME: one byte changed;
    /cut/NAME: announces the full length but closes half-way; anything else: 404."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        mode, _, name = self.path.strip("/").partition("/")
        body = server.files.get(name)
        if body is None or mode not in ("good", "corrupt", "cut", "norange"):
            self.send_error(404)
            return
        if mode == "corrupt":
            raw = bytearray(gzip.decompress(body))
            raw[-1] ^= 1
            body = gzip.compress(bytes(raw), compresslevel=1)
        start = 0
        rng = self.headers.get("Range")
        if rng and mode == "good":
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if mode == "cut":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        server.bytes_sent += len(body) - start
        self.wfile.write(body[start:])


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files = {n: (MNIST_DIR / n).read_bytes() for n in TEST_FILES}
    httpd.requests = []
    httpd.bytes_sent = 0
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def offline_mnist(monkeypatch, tmp_path):
    """MNIST that only knows tmp_path (so the repo's copy is not found) and no real mirror."""
    monkeypatch.setattr(MNIST, "_default_paths", classmethod(lambda cls: []))
    monkeypatch.setattr(MNIST, "mirrors", [])
    return tmp_path


def test_download_falls_back_to_the_next_mirror_and_loads(server, offline_mnist, monkeypatch):
    monkeypatch.setattr(MNIST, "mirrors", [f"{server.url}/missing/", f"{server.url}/good/"])
    ds = MNIST(root=offline_mnist, train=False, download=True)
    assert len(ds) == 10000 and ds[0][1] == 7
    for name in TEST_FILES:
        assert (offline_mnist / name).read_bytes() == server.files[name]
    assert not list(offline_mnist.glob("*.part"))
    assert any(p.startswith("/missing/") for p, _ in server.requests)
    # a second construction finds the files and downloads nothing
    n = len(server.requests)
    MNIST(root=offline_mnist, train=False, download=True)
    assert len(server.requests) == n


def test_a_mirror_with_a_bad_checksum_is_rejected_and_nothing_is_left(server, offline_mnist, monkeypatch):
    monkeypatch.setattr(MNIST, "mirrors", [f"{server.url}/corrupt/"])
    with pytest.raises(DownloadError) as e:
        MNIST(root=offline_mnist, train=False, download=True)
    assert "checksum mismatch" in str(e.value) and "/corrupt/t10k-images-idx3-ubyte.gz" in str(e.value)
    assert not list(offline_mnist.iterdir())          # no final file, no temp file


def test_an_interrupted_download_is_resumed_with_a_range_request(server, offline_mnist):
    name = "t10k-images-idx3-ubyte.gz"
    dest = offline_mnist / name
    expected = MNIST.checksums[name[:-3]]
    with pytest.raises(DownloadError, match="connection closed after"):
        download_file([f"{server.url}/cut/{name}"], dest, expected, quiet=True)
    part = offline_mnist / (name + ".part")
    assert not dest.exists() and 0 < part.stat().st_size < len(server.files[name])
    have = part.stat().st_size
    download_file([f"{server.url}/good/{name}"], dest, expected, quiet=True)
    assert dest.read_bytes() == server.files[name] and not part.exists()
    assert server.requests[-1] == (f"/good/{name}", f"bytes={have}-")
    assert server.bytes_sent == len(server.files[name]) - have     # only the rest was sent


def test_a_stale_partial_file_is_discarded_when_the_result_fails_its_checksum(server, offline_mnist):
    name = "t10k-labels-idx1-ubyte.gz"
    dest = offline_mnist / name
    part = offline_mnist / (name + ".part")
    stale = b"\x1f\x8b garbage from another file"
    part.write_bytes(stale)
    download_file([f"{server.url}/good/{name}"], dest, MNIST.checksums[name[:-3]], quiet=True)
    assert dest.read_bytes() == server.files[name] and not part.exists()
    assert [r for _, r in server.requests] == [f"bytes={len(stale)}-", None]   # resumed, failed, refetched


def test_a_server_without_range_support_restarts_the_file(server, offline_mnist):
    name = "t10k-labels-idx1-ubyte.gz"
    dest = offline_mnist / name
    part = offline_mnist / (name + ".part")
    part.write_bytes(server.files[name][:1000])
    download_file([f"{server.url}/norange/{name}"], dest, MNIST.checksums[name[:-3]], quiet=True)
    assert dest.read_bytes() == server.files[name]
