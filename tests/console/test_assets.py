"""Vendored assets are the npm files they claim to be; templates hold no inline script or style."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import orchestrator.console as console_pkg

HERE = Path(console_pkg.__file__).parent
VENDOR = HERE / "static" / "vendor"


def test_vendored_files_match_the_hashes_in_their_readme() -> None:
    readme = (VENDOR / "README.md").read_text()
    listed = re.findall(r"\| `([^`]+\.js)` \| [^|]+ \| `([0-9a-f]{64})` \|", readme)
    assert len(listed) == 3
    for name, digest in listed:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
        assert (VENDOR / name).parent.joinpath("LICENSE").is_file()
    assert "TradingView" in (VENDOR / "lightweight-charts-5.2.1" / "NOTICE").read_text()


def test_templates_have_no_inline_script_handler_or_style() -> None:
    for path in (HERE / "templates").glob("*.html"):
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert 'src="/static/' in tag or 'type="application/json"' in tag, (path.name, tag)
        assert not re.search(r"\son[a-z]+\s*=", text), path.name  # onclick= and friends
        assert not re.search(r"\sstyle\s*=", text), path.name
        assert "javascript:" not in text and "js:" not in text, path.name
        assert "cdn" not in text.lower() and "https://" not in text.replace("https://www.tradingview.com/", ""), \
            path.name  # nothing fetched from elsewhere at run time
