"""Give runs made before their data entered run ids (``data`` in ``config.json``) the id they have now.

Each run's configuration gets the key of the data it was trained on (:func:`transinv.datasets.data_key`),
fine-tunings their parent's new id and configuration, and the run directory its new name. The data found
here must be what the runs were trained on: the data source recorded in each run's ``done.json`` is
checked against the one found here (same files, split and counts; the folder may differ)::

    python tools/migrate_run_ids.py results/small results/paper
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from transinv.datasets import data_key, load_dataset  # noqa: E402
from transinv.runs.identity import run_id  # noqa: E402


def _without_folder(source: str) -> str:
    return re.sub(r" (from|in) /\S+", "", source)


def migrate(root: Path) -> dict[str, str]:
    """Rename every run under ``root`` that has no ``data`` key yet; returns {old id: new id}."""
    runs = [p for p in sorted(root.iterdir()) if (p / "config.json").is_file()]
    configs = {p.name: json.loads((p / "config.json").read_text()) for p in runs}
    renamed: dict[str, str] = {}
    for old in sorted(configs, key=lambda name: configs[name]["parent"] is not None):  # parents first
        config = configs[old]
        if "data" in config:
            continue
        done = root / old / "done.json"
        if done.is_file():
            trained_on = json.loads(done.read_text())["data_source"]
            here = load_dataset(config["dataset"]).source
            if not _without_folder(trained_on).startswith(_without_folder(here)):  # + "; classes ... only"
                raise SystemExit(f"{old} was trained on other data than is here:\n  {trained_on}\n  {here}")
        if config["parent"] is not None:
            parent = renamed[config["init"]]
            config["init"], config["parent"] = parent, json.loads((root / parent / "config.json").read_text())
        config["data"] = data_key(config["dataset"])
        new = run_id(config)
        (root / old / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        (root / old).rename(root / new)
        renamed[old] = new
    return renamed


if __name__ == "__main__":
    for folder in sys.argv[1:]:
        print(f"{folder}: {len(migrate(Path(folder)))} runs renamed")
