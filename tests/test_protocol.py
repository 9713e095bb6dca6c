"""One repetition of the protocol at the tiny preset: scheduled by dependencies, cut by a budget, resumed, packed."""
import json

import pytest

from transinv import protocol
from transinv.runs import finished_runs

RUNS_PER_REPETITION = 8 + 6 + 12 + 6 * 6 + 2  # pretrainings, vanilla, experiment 1, fine-tunings of exps 2 and 3


def test_a_budget_stops_it_and_the_next_call_finishes_it(tmp_path, capsys):
    cut = protocol.run_protocol("tiny", 0, tmp_path, budget_seconds=20, workers=2, device="cpu")
    assert not cut["complete"] and cut["left_unfinished"] > 0 and cut["finished_runs"] < RUNS_PER_REPETITION
    whole = protocol.run_protocol("tiny", 0, tmp_path, workers=2, device="cpu")
    assert whole["complete"] and whole["finished_runs"] == RUNS_PER_REPETITION
    assert whole["trained_now"] == RUNS_PER_REPETITION - cut["finished_runs"]  # nothing trained twice
    spent = whole["where_the_time_went"]
    assert spent["train"] > 0 and spent["eval"] > 0 and spent["setup"] > 0
    assert spent["worker_seconds"] == pytest.approx(spent["setup"] + spent["train"] + spent["eval"] + spent["rest"])
    log = capsys.readouterr().out
    first_finetuning = log.index("one_location-finetuned")
    assert "emnist18-areas" in log[:first_finetuning]  # fine-tunings start once their pretraining is done ...
    assert "efficientnet_lite0" in log[first_finetuning:]  # ... before experiment 1's runs, not in waves

    archive = protocol.pack(tmp_path, "tiny", whole, tmp_path / "out" / "tables.tar.gz")
    names = protocol.unpack(archive, tmp_path / "elsewhere")
    assert not any(n.endswith("ckpt.pt") for n in names)
    cosine_tables = [n for n in names if "/cosine-" in n]  # computed where the models were: they do not travel
    assert len(cosine_tables) == 6 * 6 + 6 * 6 + 6  # exp. 2's pretrainings on each dataset, fine-tunings, vanilla
    assert protocol.finished_in_repetition("tiny", 0, tmp_path / "elsewhere") == RUNS_PER_REPETITION
    note = protocol.repetitions_note("tiny", tmp_path / "elsewhere", 2)
    assert "1 of 2 repetitions complete" in note and "laptop version" in note
    assert len(finished_runs(tmp_path / "elsewhere" / "tiny")) == RUNS_PER_REPETITION
    record = json.loads((tmp_path / "elsewhere" / "tiny" / "repetitions" / "seed-0.json").read_text())
    assert record["complete"] and record["seed"] == 0
