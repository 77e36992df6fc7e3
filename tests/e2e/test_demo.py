"""`lily demo` end to end, as a user runs it: a real process on a fresh temporary embedded
Lily, with the customer's pauses and Lily's jitter shortened so that it takes seconds. The
transcript must hold the whole conversation, in order, and /metrics the business counters."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

LILY = "from lily_cli.main import main; main()"


def test_the_demo_prints_the_whole_conversation_and_counts_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LILY_")}
    env["LILY_TWILIO_ACCOUNT_SID"] = "AC" + "9" * 32  # ignored: the demo never sends
    env["LILY_TWILIO_AUTH_TOKEN"] = "not-used"
    done = subprocess.run(
        [sys.executable, "-c", LILY, "demo", "--jitter", "0.3", "--pause", "0.2"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=110,  # the bar is two minutes
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    said = [line for line in lines if re.match(r"\[\s*\d+\.\d+s\] ", line)]
    who = [line.split("]", 1)[1].split()[0] for line in said]
    assert who == ["call", "call", "Lily", "Customer", "Lily", "Cal.com", "Lily", "Lily"]
    text = "\n".join(said)
    assert "forward to +12145550199" in said[0]
    assert "Sorry we missed your call" in said[2]
    assert "[2 photos]" in said[3] and "75032" in said[3]
    assert re.search(r"ballpark is \$\d+–\$\d+", said[4])
    assert "metadata%5Blead_id%5D=" in said[4]
    assert "you're booked for" in said[6]
    assert "leave us a review" in said[7] and "https://g.page/r/demo-wash/review" in text
    assert "Done in" in done.stdout
    slug = 'tenant="demo-pressure-washing"'
    for counter in ("missed_calls", "text_backs", "quotes", "bookings"):
        assert re.search(rf"lily_{counter}_total\{{.*{slug}.*\}} 1\.0", done.stdout), counter
    assert f"lily_speed_to_lead_seconds_count{{{slug}}} 1.0" in done.stdout
    assert not list(tmp_path.iterdir())  # nothing written where it ran
