import base64
import io
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image

from groundlm.serve.app import MAX_SAMPLES, _axes


def picture(size=(64, 48), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buffer, format=fmt)
    return buffer.getvalue()


def ask(url, task, files=True, image=None, **fields):
    data = picture() if image is None else image
    if files:
        return httpx.post(f"{url}/api/{task}", files={"image": ("x.png", data)}, data=fields, timeout=60)
    return httpx.post(f"{url}/api/{task}", json={"image": base64.b64encode(data).decode(), **fields}, timeout=60)


def test_health_page_static_files_tasks_samples_and_openapi(server):
    url, _ = server
    health = httpx.get(f"{url}/health").json()
    assert health["status"] == "ok" and health["model"] == "tiny" and health["device"] == "cpu"
    assert set(health["tasks"]) == {"refer", "pose", "region_caption"}
    page = httpx.get(f"{url}/")
    assert page.status_code == 200 and "<canvas" in page.text and "/static/app.js" in page.text
    assert "fetch(" in httpx.get(f"{url}/static/app.js").text
    assert httpx.get(f"{url}/static/style.css").headers["content-type"].startswith("text/css")
    tasks = {t["name"]: t for t in httpx.get(f"{url}/api/tasks").json()}
    assert tasks["region_caption"]["needs"] == "box" and tasks["refer"]["needs"] == "query"
    samples = httpx.get(f"{url}/api/samples").json()
    assert len(samples) >= 3 and all(s["queries"] for s in samples)
    png = httpx.get(f"{url}{samples[0]['url']}")
    assert png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size == (samples[0]["width"], samples[0]["height"])
    spec = httpx.get(f"{url}/openapi.json").json()
    assert "/api/{task}" in spec["paths"] and "/health" in spec["paths"]
    assert httpx.get(f"{url}/docs").status_code == 200


def test_every_task_answers_in_pixels_and_degrees(server):
    url, _ = server
    refer = ask(url, "refer", query="the red cube")
    assert refer.status_code == 200, refer.text
    body = refer.json()
    assert body["task"] == "refer" and isinstance(body["text"], str) and body["image"] == {"width": 64, "height": 48}
    assert "boxes" in body["parsed"] and body["model"] == "tiny"
    for box in body["parsed"]["boxes"]:  # parsed boxes are pixels of this 64 x 48 image
        assert 0 <= box[0] <= box[2] <= 64 and 0 <= box[1] <= box[3] <= 48
    # The same query as JSON with base64 gets the same answer (greedy decoding).
    assert ask(url, "refer", files=False, query="the red cube").json()["text"] == body["text"]
    caption = ask(url, "region_caption", box="4 4 40 30")
    assert caption.status_code == 200 and caption.json()["task"] == "region_caption"
    assert ask(url, "region_caption", files=False, box=[4, 4, 40, 30]).json()["text"] == caption.json()["text"]
    pose = ask(url, "pose", query="the person", constrain="true")
    assert pose.status_code == 200, pose.text
    answer = pose.json()
    # Constrained decoding always yields three angles (a random model's box may be degenerate, hence no axes).
    assert set(answer["pose"]) == {"yaw", "pitch", "roll"} and (answer["axes"] is None) == (answer["box"] is None)
    sampled = ask(url, "pose", query="the person", numeric="median", samples="3").json()
    assert len(sampled["texts"]) == 3 and sampled["numeric"] == "median"
    # A task the model was not trained on is not offered (this model's manifest has no narrate).
    assert ask(url, "narrate").status_code == 404


def test_pose_axes_are_the_rotated_frame_drawn_from_the_box_centre():
    # No rotation: x points right, y down, z into the picture (no image extent), each as long as the box is wide.
    level = {"pose": {"yaw": 0.0, "pitch": 0.0, "roll": 0.0}, "box": [10, 10, 30, 40]}
    assert _axes(level) == [[40.0, 25.0], [20.0, 45.0], [20.0, 25.0]]
    # Roll +90 turns x onto the image's y (down) axis (R = Rz(roll) Ry(yaw) Rx(pitch)).
    rolled = _axes({**level, "pose": {"yaw": 0.0, "pitch": 0.0, "roll": 90.0}})
    assert rolled[0] == pytest.approx([20.0, 45.0], abs=1e-4)
    assert _axes({"pose": None, "box": [0, 0, 1, 1]}) is None


@pytest.mark.parametrize(
    ("task", "kwargs", "status", "words"),
    [
        ("refer", {"image": b"x" * 300_000, "query": "a"}, 413, "limit"),
        ("refer", {"image": b"%PDF-1.4 this is not a picture", "query": "a"}, 415, "not an image"),
        ("refer", {"image": picture(fmt="TIFF"), "query": "a"}, 415, "TIFF"),
        ("refer", {"image": picture((2000, 10)), "query": "a"}, 400, "2000x10"),
        ("refer", {"image": picture((900, 900)), "query": "a"}, 400, "900x900"),
        ("refer", {"query": ""}, 422, "query"),
        ("refer", {"query": "x" * 501}, 422, "500"),
        ("refer", {"query": "a", "numeric": "mode"}, 422, "numeric"),
        ("refer", {"query": "a", "numeric": "mean", "samples": str(MAX_SAMPLES + 1)}, 422, "samples"),
        ("refer", {"query": "a", "constrain": "maybe"}, 422, "constrain"),
        ("region_caption", {"box": "0 0 65 10"}, 400, "not inside"),
        ("region_caption", {"box": "10 10 5 20"}, 400, "x0 < x1"),
        ("region_caption", {"box": "1 2 3"}, 400, "four"),
        ("region_caption", {}, 400, "needs a box"),
        ("dance", {"query": "a"}, 404, "unknown task"),
        ("../../etc/passwd", {"query": "a"}, 404, ""),
    ],
)
def test_bad_input_gets_a_4xx_with_a_json_error(server, task, kwargs, status, words):
    url, _ = server
    response = ask(url, task, **kwargs)
    assert response.status_code == status, response.text
    assert words in response.json()["error"]


def test_malformed_bodies_and_paths(server):
    url, _ = server
    cases = [
        httpx.post(f"{url}/api/refer", content=b"{not json", headers={"content-type": "application/json"}),
        httpx.post(f"{url}/api/refer", json=["a", "list"]),
        httpx.post(f"{url}/api/refer", json={"query": "no image"}),
        httpx.post(f"{url}/api/refer", json={"image": "@@@", "query": "a"}),
        httpx.post(f"{url}/api/refer", content=b"query=a", headers={"content-type": "text/plain"}),
        httpx.post(f"{url}/api/refer", data={"query": "a"}, files={"other": ("x", b"1")}),
        httpx.post(f"{url}/api/refer", content=b"--xx\r\nbroken", headers={"content-type": "multipart/form-data"}),
        httpx.get(f"{url}/static/..%2F..%2Fpyproject.toml"),
        httpx.get(f"{url}/api/samples/..%2F..%2Fetc%2Fpasswd"),
        httpx.get(f"{url}/nowhere"),
    ]
    for response in cases:
        assert 400 <= response.status_code < 500, (response.request.url, response.text)
        assert response.json()["error"]
    # The server is still well.
    assert httpx.get(f"{url}/health").json()["status"] == "ok"


def test_a_declared_oversized_body_is_refused_before_it_is_read(server):
    url, _ = server
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        head = f"POST /api/refer HTTP/1.1\r\nHost: {host}\r\nContent-Type: image/png\r\nContent-Length: 999999999\r\n"
        conn.sendall(head.encode() + b"\r\n" + b"x" * 1000)  # nowhere near the declared size
        reply = b""
        while b"}" not in reply:
            chunk = conn.recv(4096)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413") and b"limit" in reply


def test_a_hundred_concurrent_requests_are_all_answered_in_batches(server, service):
    url, app = server
    before = app.state.batcher.stats.batches
    queries = [f"the {c} cube" for c in ("red", "green", "blue", "white")] * 25
    with httpx.Client(timeout=120, limits=httpx.Limits(max_connections=64)) as client:

        def one(q):
            return client.post(f"{url}/api/refer", files={"image": ("x.png", picture())}, data={"query": q})

        with ThreadPoolExecutor(32) as pool:
            responses = list(pool.map(one, queries))
    assert [r.status_code for r in responses] == [200] * 100
    # Each answer is the one its query gets alone (greedy decoding; batching changes nothing).
    alone = {q: ask(url, "refer", query=q).json()["text"] for q in set(queries)}
    assert all(r.json()["text"] == alone[q] for r, q in zip(responses, queries))
    stats = app.state.batcher.stats
    assert stats.largest > 1 and stats.batches - before < 100
