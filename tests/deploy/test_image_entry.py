"""Without a Docker engine, the next best thing to running the image: build Lily's wheel as
the Dockerfile's wheel stage does, install it alone into a fresh virtual environment (its
dependencies reached through a .pth to this environment's site-packages: only the build
backend is fetched), and run the image's own command line (ENTRYPOINT + CMD, read from the
Dockerfile) from that environment until /healthz answers, then stop it as Docker does
(SIGTERM). The dashboard build is skipped (LILY_SKIP_WEB_BUILD): npm's part is checked by
the dashboard's own tests. Bounded: about 20-40 s on a busy machine."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx

from tests.deploy.test_deploy_files import ROOT, image_command

INSTALL = ("--quiet", "--no-deps", "--no-index")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_wheel_runs_the_images_command(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    env = {**os.environ, "LILY_SKIP_WEB_BUILD": "1"}
    subprocess.run(
        # build isolation, as in the image: setuptools>=69 from PyPI (pip's cache after once)
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True,
        env=env,
        timeout=180,
    )
    (wheel,) = dist.glob("lily-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", *INSTALL, str(wheel)],
        check=True,
        timeout=120,
    )
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "zz_lily_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = subprocess.run(
        [python, "-c", "import lily_http, lily_core; print(lily_http.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout
    assert where.startswith(str(site)), where  # the wheel's code, not the checkout's

    command = image_command()
    assert command[0] == "lily"
    port = _free_port()
    args = [str(venv / "bin" / "lily"), *command[1:]]
    args[args.index("--port") + 1] = str(port)
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("LILY_")}
    run_env |= {
        "LILY_DATABASE_URL": f"sqlite:///{tmp_path / 'lily.db'}",  # as the image's ENV, in tmp
        "LILY_DATA_DIR": str(tmp_path / "data"),
        "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '')}",
    }
    server = subprocess.Popen(
        args, cwd=tmp_path, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()[0].decode()[-2000:]
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                if response.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "lily serve did not answer /healthz in 60 s"
            time.sleep(0.2)
        assert response.json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)  # docker stop
        output = server.communicate(timeout=30)[0].decode()
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught (so the process
    # reports the signal, as a supervisor expects)
    assert server.returncode in (0, -signal.SIGTERM), output[-2000:]
    assert "Application shutdown complete" in output
