"""Official weights by name (yolox.utils.checkpoint.download), against an HTTP server the tests
start on 127.0.0.1: a download lands whole in the cache and is reused; a 404, a broken file, a
download cut short, a refused connection and a silent server each raise one error naming the URL
and leave nothing in the cache; two processes downloading at once leave one good file.
"""
import argparse
import hashlib
import multiprocessing
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch

from yolox.utils.checkpoint import (OFFICIAL_WEIGHTS, WeightsDownloadError, official_model_name, official_weights_file,
                                    read_checkpoint, resolve_checkpoint, save_checkpoint, weights_cache_dir)
from yolox.utils.checkpoint import download as download_module


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.routes``: path -> (behaviour, bytes); behaviours "ok", "cut" (announces all
    the bytes, sends half, closes), "together" (answers once two requests wait: both downloads are
    under way at once); other paths 404. Records each path."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.server.requests.append(self.path)
        behaviour, body = self.server.routes.get(self.path, ("missing", b""))
        if behaviour == "missing":
            self.send_error(404, "Not Found")
            return
        if behaviour == "together":
            self.server.both_asked.wait()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if behaviour == "cut" else body)
        self.close_connection = True

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.routes, httpd.requests, httpd.both_asked = {}, [], threading.Barrier(2, timeout=20)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/release"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def nano_bytes(tmp_path_factory) -> bytes:
    """A real YOLOX-Nano checkpoint at width 0.125, written by the project's checkpoint writer."""
    from yolox.exp import get_exp
    from yolox.utils.checkpoint import model_meta

    exp = get_exp(exp_name="yolox-nano")
    exp.width = 0.125
    state = {"model": exp.get_model().state_dict(), "meta": model_meta(exp)}
    folder = tmp_path_factory.mktemp("release")
    return save_checkpoint(state, False, folder, "yolox_nano").read_bytes()


@pytest.fixture
def cache(server, tmp_path, monkeypatch) -> Path:
    """The weights cache of this test, downloading from ``server``."""
    monkeypatch.setenv("YOLOX_WEIGHTS_URL", server.url)
    monkeypatch.setenv("YOLOX_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "weights"


def _leftovers(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_names_map_to_release_files():
    assert official_weights_file("yolox-s") == official_weights_file("yolox_s") == "yolox_s.pth"
    assert official_weights_file("YOLOX_S.pth") == "yolox_s.pth"
    assert official_weights_file("yolov3") == official_weights_file("yolox_darknet") == "yolox_darknet.pth"
    assert official_weights_file("yolox-q") is None
    assert official_model_name("yolox_s.pth") == "yolox-s" and official_model_name("yolox_darknet.pth") == "yolov3"
    assert official_model_name("best_ckpt.pth") is None
    assert set(OFFICIAL_WEIGHTS) == {"yolox-nano", "yolox-tiny", "yolox-s", "yolox-m", "yolox-l", "yolox-x", "yolov3"}


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("YOLOX_HOME", str(tmp_path / "yh"))
    assert weights_cache_dir() == tmp_path / "yh" / "weights"
    monkeypatch.delenv("YOLOX_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert weights_cache_dir() == tmp_path / "xdg" / "yolox" / "weights"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert weights_cache_dir() == Path("~/.cache/yolox/weights").expanduser()


def test_a_name_downloads_once_and_the_cache_is_reused(server, cache, nano_bytes):
    server.routes["/release/yolox_nano.pth"] = ("ok", nano_bytes)
    path = resolve_checkpoint("yolox-nano")
    assert path == cache / "yolox_nano.pth" and path.read_bytes() == nano_bytes
    assert read_checkpoint(path)["meta"]["width"] == 0.125
    assert _leftovers(cache) == ["yolox_nano.pth"]  # no temp file beside it
    for spelling in ("yolox_nano", "yolox_nano.pth", "YOLOX-Nano"):
        assert resolve_checkpoint(spelling) == path
    assert server.requests == ["/release/yolox_nano.pth"]  # one request for four calls


def test_an_existing_file_wins_over_a_name(server, cache, tmp_path, monkeypatch, nano_bytes):
    (tmp_path / "yolox_s.pth").write_bytes(nano_bytes)
    monkeypatch.chdir(tmp_path)
    assert resolve_checkpoint("yolox_s.pth") == Path("yolox_s.pth")
    assert server.requests == []


def test_progress_is_logged_every_tenth_and_the_rate_at_the_end(server, cache, nano_bytes, capture_log, monkeypatch):
    monkeypatch.setattr(download_module, "_CHUNK_BYTES", len(nano_bytes) // 40 + 1)
    server.routes["/release/yolox_nano.pth"] = ("ok", nano_bytes)
    messages = capture_log("INFO")
    resolve_checkpoint("yolox-nano")
    percents = [m.split(": ")[1].split("%")[0] for m in messages if "% of" in m]
    assert percents == ["10", "20", "30", "40", "50", "60", "70", "80", "90"]
    assert any("MB/s" in m for m in messages)


def test_a_404_names_the_url_and_caches_nothing(server, cache):
    with pytest.raises(WeightsDownloadError) as err:
        resolve_checkpoint("yolox-s")
    message = str(err.value)
    assert f"{server.url}/yolox_s.pth" in message and "HTTP 404" in message
    assert str(cache / "yolox_s.pth") in message  # where to put a copy fetched by hand
    assert _leftovers(cache) == []


def test_a_broken_file_of_the_right_length_is_rejected(server, cache, nano_bytes):
    server.routes["/release/yolox_tiny.pth"] = ("ok", bytes(len(nano_bytes)))
    with pytest.raises(WeightsDownloadError, match="not a checkpoint file"):
        resolve_checkpoint("yolox-tiny")
    assert _leftovers(cache) == []
    damaged = bytearray(nano_bytes)  # a real checkpoint with a flipped byte mid-file: the CRC check finds it
    damaged[len(damaged) // 2] ^= 0xFF
    server.routes["/release/yolox_tiny.pth"] = ("ok", bytes(damaged))
    with pytest.raises(WeightsDownloadError, match="truncated or damaged"):
        resolve_checkpoint("yolox-tiny")
    assert _leftovers(cache) == []


def test_a_file_holding_python_objects_is_never_loaded(server, cache, tmp_path):
    torch.save({"model": {"w": torch.zeros(2)}, "args": argparse.Namespace(lr=0.01)}, tmp_path / "pickled.pth")
    server.routes["/release/yolox_s.pth"] = ("ok", (tmp_path / "pickled.pth").read_bytes())
    with pytest.raises(WeightsDownloadError, match="Python objects.*--unsafe-load"):
        resolve_checkpoint("yolox-s")
    assert _leftovers(cache) == []


def test_a_known_sha256_is_checked(server, cache, nano_bytes, monkeypatch):
    server.routes["/release/yolox_nano.pth"] = ("ok", nano_bytes)
    monkeypatch.setitem(download_module.OFFICIAL_SHA256, "yolox_nano.pth", "0" * 64)
    with pytest.raises(WeightsDownloadError, match="sha256"):
        resolve_checkpoint("yolox-nano")
    assert _leftovers(cache) == []
    monkeypatch.setitem(download_module.OFFICIAL_SHA256, "yolox_nano.pth", hashlib.sha256(nano_bytes).hexdigest())
    assert resolve_checkpoint("yolox-nano").read_bytes() == nano_bytes


def test_an_interrupted_download_leaves_no_file(server, cache, nano_bytes):
    server.routes["/release/yolox_m.pth"] = ("cut", nano_bytes)
    with pytest.raises(WeightsDownloadError) as err:
        resolve_checkpoint("yolox_m.pth")
    assert f"{len(nano_bytes) // 2} of {len(nano_bytes)} bytes" in str(err.value)
    assert f"{server.url}/yolox_m.pth" in str(err.value)
    assert _leftovers(cache) == []


def test_no_network_gives_the_url_to_download_by_hand(cache, monkeypatch):
    with socket.socket() as probe:  # a port nothing listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("YOLOX_WEIGHTS_URL", f"http://127.0.0.1:{port}/release/")
    with pytest.raises(WeightsDownloadError) as err:
        resolve_checkpoint("yolov3")
    message = str(err.value)
    assert f"http://127.0.0.1:{port}/release/yolox_darknet.pth" in message and "no connection" in message
    assert "-c" in message and str(cache / "yolox_darknet.pth") in message
    assert _leftovers(cache) == []


def test_a_server_that_never_answers_times_out(cache, monkeypatch):
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        monkeypatch.setenv("YOLOX_WEIGHTS_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        with pytest.raises(WeightsDownloadError, match="no connection"):
            resolve_checkpoint("yolox-l", timeout=0.3)
    assert _leftovers(cache) == []


def test_unknown_names_and_missing_paths_are_file_not_found(server, cache, tmp_path):
    with pytest.raises(FileNotFoundError, match="'yolox-q' does not exist.*known names: .*yolox-s"):
        resolve_checkpoint("yolox-q")
    with pytest.raises(FileNotFoundError, match="does not exist") as err:
        resolve_checkpoint(tmp_path / "runs" / "yolox_s.pth")  # a path with a folder is a path, not a name
    assert "known names" not in str(err.value)
    with pytest.raises(FileNotFoundError, match="is a folder"):
        resolve_checkpoint(tmp_path)
    assert server.requests == []


def _resolve_in_child(queue) -> None:
    try:
        queue.put(str(resolve_checkpoint("yolox-x")))
    except Exception as err:  # report, do not hang the parent
        queue.put(repr(err))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_two_processes_downloading_at_once_leave_one_good_file(server, cache, nano_bytes):
    server.routes["/release/yolox_x.pth"] = ("together", nano_bytes)
    context = multiprocessing.get_context("fork")  # torch is imported already; fork costs no re-import
    queue = context.Queue()
    children = [context.Process(target=_resolve_in_child, args=(queue,)) for _ in range(2)]
    for child in children:
        child.start()
    results = [queue.get(timeout=30) for _ in children]
    for child in children:
        child.join(timeout=30)
    assert results == [str(cache / "yolox_x.pth")] * 2
    assert len(server.requests) == 2
    assert (cache / "yolox_x.pth").read_bytes() == nano_bytes
    assert _leftovers(cache) == ["yolox_x.pth"]


def test_the_tools_checkpoint_flag_takes_a_name(server, cache, nano_bytes):
    """tools/eval.py (and demo, export, visualize_assign, train's fine-tuning) resolve -c in build_exp."""
    from yolox.deploy.model_loading import load_model
    from yolox.tools.eval import make_parser
    from yolox.tools.exp_flags import build_exp

    server.routes["/release/yolox_nano.pth"] = ("ok", nano_bytes)
    args = make_parser().parse_args(["-n", "yolox-nano", "-c", "yolox_nano.pth"])
    exp = build_exp(args)
    assert args.ckpt == str(cache / "yolox_nano.pth")
    loaded = load_model(exp, args.ckpt)  # what eval does next: the checkpoint's width builds the model
    assert loaded.num_classes == 80 and exp.width == 0.125
    assert isinstance(loaded.model.head.cls_preds[0].weight, torch.Tensor)


def test_an_official_checkpoint_alone_picks_its_bundled_experiment(server, cache, nano_bytes, tmp_path):
    from yolox.tools.eval import make_parser
    from yolox.tools.exp_flags import build_exp

    server.routes["/release/yolox_nano.pth"] = ("ok", nano_bytes)
    args = make_parser().parse_args(["-c", "yolox_nano.pth"])
    assert build_exp(args).exp_name == "yolox_nano" and args.ckpt == str(cache / "yolox_nano.pth")
    mine = tmp_path / "best_ckpt.pth"  # a file of one's own says nothing of its experiment
    mine.write_bytes(nano_bytes)
    with pytest.raises(SystemExit, match="error: give an experiment file"):
        build_exp(make_parser().parse_args(["-c", str(mine)]))


def test_resume_of_a_missing_file_downloads_nothing(server, cache):
    from yolox.tools.exp_flags import resolve_checkpoint_flag

    args = argparse.Namespace(ckpt="yolox_s.pth", resume=True)
    resolve_checkpoint_flag(args)
    assert args.ckpt == "yolox_s.pth" and server.requests == []  # the trainer's missing-file error stands


def test_a_tool_without_network_stops_with_one_line_naming_the_url(cache, monkeypatch):
    from yolox.tools.eval import main

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("YOLOX_WEIGHTS_URL", url)
    with pytest.raises(SystemExit) as stop:
        main(["-n", "yolox-nano", "-c", "yolox-nano"])
    assert str(stop.value.code).startswith("error: -c yolox-nano: could not download")
    assert f"{url}/yolox_nano.pth" in str(stop.value.code)
    with pytest.raises(SystemExit, match="'no_such.pth' does not exist"):
        main(["-n", "yolox-nano", "-c", "no_such.pth"])


def test_a_detector_opens_an_official_model_by_name(server, cache, nano_bytes, tmp_path):
    """Detector("yolox-nano"): the release file downloaded into the cache, the bundled experiment's
    network (shaped by the checkpoint), COCO's names; a name that is neither a file nor a model is
    a clear error."""
    from yolox import Detector

    server.routes["/release/yolox_nano.pth"] = ("ok", nano_bytes)
    detector = Detector("yolox-nano", conf=0.5)
    assert (cache / "yolox_nano.pth").is_file() and detector.backend.name == "torch"
    assert detector.metadata.num_classes == 80 and detector.class_names[0] == "person"
    assert len(detector(np.full((64, 80, 3), 114, np.uint8)).boxes.shape) == 2
    with pytest.raises(FileNotFoundError, match="official model name"):
        Detector("yolox-q")
