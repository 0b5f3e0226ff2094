"""bench/peers.py's pure logic: the pins it reads, the requests and answers of each protocol, the
correctness gate's comparison, the process-tree CPU reading and the ratios it prints last."""

from __future__ import annotations

import os

import pytest

from bench import peers


def test_the_pinned_version_is_read_whatever_the_spelling_of_the_name() -> None:
    text = "# a comment\nmlserver==1.7.1\nmlserver_lightgbm==1.7.1  # the runtime\nuvloop>=0.21\n"
    assert peers.pinned_version(text, "mlserver") == "1.7.1"
    assert peers.pinned_version(text, "MLServer-LightGBM") == "1.7.1"
    with pytest.raises(ValueError, match="uvloop is not pinned"):
        peers.pinned_version(text, "uvloop")


def test_every_peer_pins_its_own_version_and_mlserver_the_uvloop_it_needs() -> None:
    for name in peers.PEERS:
        text = (peers.PEERS_DIR / f"{name}.txt").read_text()
        assert peers.pinned_version(text, name)
        assert peers.pinned_version(text, "lightgbm") == "4.7.0"
    mlserver = (peers.PEERS_DIR / "mlserver.txt").read_text()
    assert peers.pinned_version(mlserver, "uvloop") == "0.21.0"


def test_the_v2_request_is_one_fp32_tensor_in_row_major_order() -> None:
    request = peers.v2_request([[3, 2, 1500, 2020], [4, 3, 2500, 1990]])
    assert request == {
        "inputs": [
            {
                "name": "predict",
                "shape": [2, 4],
                "datatype": "FP32",
                "data": [3, 2, 1500, 2020, 4, 3, 2500, 1990],
            }
        ]
    }


def test_predictions_read_from_each_protocol() -> None:
    assert peers.project_predictions({"prediction": 240521.8}) == [240521.8]
    assert peers.project_predictions({"predictions": [1.0, 2.0], "count": 2}) == [1.0, 2.0]
    answer = {"outputs": [{"name": "predict", "datatype": "FP64", "data": [240521.8]}]}
    assert peers.v2_predictions(answer) == [240521.8]
    with pytest.raises(KeyError):
        peers.project_predictions({"error": "bad request"})


def test_the_gate_names_the_first_row_off_by_more_than_the_tolerance() -> None:
    assert peers.mismatch([240521.80264214327], [240521.80264214342]) is None
    assert peers.mismatch([1.0, 2.1], [1.0, 2.0]) == "row 1: 2.1, expected 2.0 (tolerance 1e-06)"
    assert peers.mismatch([1.0], [1.0, 2.0]) == "1 predictions, expected 2"
    assert peers.mismatch([float("nan")], [1.0]) is not None


def test_a_stat_line_reads_even_with_a_name_holding_spaces_and_parentheses() -> None:
    fields = ["S", "41", *["0"] * 9, "250", "50", *["0"] * 30]
    line = "1234 (python (worker) 1) " + " ".join(fields)
    assert peers.parse_stat(line) == (1234, "python (worker) 1", 41, 300)


def test_this_process_reads_as_the_root_of_its_tree() -> None:
    tree = peers.process_tree_cpu(os.getpid())
    assert os.getpid() in tree and tree[os.getpid()][1] > 0


def test_descendants_follow_every_level_and_nothing_else() -> None:
    parents = {10: 1, 11: 10, 12: 10, 13: 11, 20: 1}
    assert peers.descendants(parents, 10) == {10, 11, 12, 13}
    assert peers.descendants(parents, 13) == {13}


def test_the_cpu_split_counts_new_processes_from_zero_busiest_first() -> None:
    before = {1: ("gunicorn", 100.0), 2: ("python", 1000.0)}
    after = {1: ("gunicorn", 150.0), 2: ("python", 1400.0), 3: ("python", 900.0)}
    assert peers.cpu_split(before, after) == {
        "python:3": 900.0,
        "python:2": 400.0,
        "gunicorn:1": 50.0,
    }
    assert peers.busiest_shares({"a:1": 60.0, "b:2": 30.0, "c:3": 10.0, "d:4": 0.0}) == "60/30/10%"


def test_a_round_is_unbalanced_when_one_worker_did_nearly_all_of_it() -> None:
    assert peers.unbalanced({"bentoml:1": 0.0, "python:2": 40.0, "python:3": 1040.0})
    assert not peers.unbalanced({"gunicorn:1": 1.0, "python:2": 510.0, "python:3": 490.0})
    assert not peers.unbalanced({"idle:1": 0.0})


def test_ratios_are_mlinfra_over_each_peer() -> None:
    single = {
        "mlinfra": {"rps": 3000.0, "p99_ms": 5.0, "cpu_us_per_request": 100.0},
        "mlserver": {"rps": 1000.0, "p99_ms": 20.0, "cpu_us_per_request": 400.0},
        "bentoml": {"rps": 600.0, "p99_ms": 10.0, "cpu_us_per_request": 500.0},
    }
    batch = {"mlinfra": {"rows_per_s": 2e6}, "mlserver": {"rows_per_s": 5e5}}
    assert peers.ratios(single, batch) == {
        "mlinfra_vs_mlserver_throughput": 3.0,
        "mlinfra_vs_mlserver_p99": 0.25,
        "mlinfra_vs_mlserver_cpu_per_request": 0.25,
        "mlinfra_vs_mlserver_batch_throughput": 4.0,
        "mlinfra_vs_bentoml_throughput": 5.0,
        "mlinfra_vs_bentoml_p99": 0.5,
        "mlinfra_vs_bentoml_cpu_per_request": 0.2,
    }
    twin = {**single, "mlinfra_lightgbm": single["mlinfra"]}
    assert set(peers.ratios(twin, {}, "mlinfra_lightgbm")) == {
        f"mlinfra_lightgbm_vs_{peer}_{figure}"
        for peer in ("mlserver", "bentoml")
        for figure in ("throughput", "p99", "cpu_per_request")
    }


def test_each_server_goes_first_in_turn() -> None:
    names = ["mlinfra", "mlserver", "bentoml"]
    assert [peers.rotated(names, i)[0] for i in range(4)] == [
        "mlinfra",
        "mlserver",
        "bentoml",
        "mlinfra",
    ]
