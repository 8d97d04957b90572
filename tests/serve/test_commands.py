import json
import re
import socket
import subprocess
import sys
import time

import httpx

from groundlm.cli import main
from groundlm.tasks import save_task_list


def test_serve_refuses_a_wrong_directory_and_a_taken_port(tmp_path, capsys, service):
    assert main(["serve", "--checkpoint", str(tmp_path / "nowhere")]) == 2
    assert "not a groundlm model directory" in capsys.readouterr().err
    service.model.save_pretrained(tmp_path / "m")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["serve", "--checkpoint", str(tmp_path / "m"), "--port", str(port)]) == 2
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err
    assert main(["serve", "--checkpoint", str(tmp_path / "m"), "--max-batch", "0"]) == 2


def test_groundlm_serve_runs_until_stopped(tmp_path, service):
    service.model.save_pretrained(tmp_path / "m")
    save_task_list(tmp_path / "m", [{"name": "refer", "options": {"query_first": True}}])
    command = [sys.executable, "-m", "groundlm", "serve", "--checkpoint", str(tmp_path / "m"), "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = process.stdout.readline()
        url = re.search(r"http://[\d.]+:\d+", line)
        assert url, line
        for _ in range(200):  # the model loads and uvicorn starts after the line is printed
            try:
                health = httpx.get(f"{url.group(0)}/health", timeout=5).json()
                break
            except httpx.TransportError:
                process.poll()
                assert process.returncode is None, process.stdout.read()
                time.sleep(0.1)
        assert health["model"] == "m" and health["tasks"] == ["refer"]
    finally:
        process.terminate()
        process.wait(30)


def test_bench_serve_loses_nothing_and_writes_json(tmp_path, capsys):
    out = tmp_path / "serve.json"
    assert main(["bench", "serve", "--requests", "6", "--clients", "1", "3", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "3 concurrent" in table and "requests_per_s" in table
    result = json.loads(out.read_text())
    assert [r["clients"] for r in result["rows"]] == [1, 3]
    assert all(r["lost"] == 0 and r["requests_per_s"] > 0 and r["p50_ms"] <= r["p99_ms"] for r in result["rows"])
