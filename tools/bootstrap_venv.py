"""Create .venv with pip, even where Debian's python3 has no ensurepip (no python3-venv).

Used by the Makefile: `python3 tools/bootstrap_venv.py .venv`.  Falls back to a
venv without pip, then installs pip from its wheel on PyPI (the only network the
project needs).
"""
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
import venv
from pathlib import Path


def main(target: str) -> int:
    root = Path(target)
    py = root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if py.exists() and subprocess.call([str(py), "-m", "pip", "--version"], stdout=subprocess.DEVNULL) == 0:
        return 0
    try:
        venv.create(root, with_pip=True, clear=True)
        return 0
    except Exception as exc:  # ensurepip missing on Debian without python3-venv
        print(f"venv with pip failed ({exc}); installing pip from PyPI instead", file=sys.stderr)
    venv.create(root, with_pip=False, clear=True)
    api = "https://pypi.org/pypi/pip/json"
    with urllib.request.urlopen(api, timeout=60) as r:
        info = json.load(r)
    wheel = next(u for u in info["urls"] if u["filename"].endswith(".whl"))
    with tempfile.TemporaryDirectory() as tmp:
        whl = Path(tmp) / wheel["filename"]
        urllib.request.urlretrieve(urllib.parse.urljoin(api, wheel["url"]), whl)
        return subprocess.call([str(py), str(whl / "pip"), "install", "--no-index", str(whl)])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".venv"))
