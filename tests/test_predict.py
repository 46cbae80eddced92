"""scripts/predict.py on a run that echoes every test sequence right, and the parsing of its input."""

import json
import subprocess
import sys

import pytest

from conftest import ROOT, read_metrics, run_script
from echo_lstm.data import generate_values, seeded_generator
from echo_lstm.inference import SequenceError, parse_sequence

# conftest.SMALL_PROBLEM
N_FEATURES, SEQ_LENGTH, ECHO_INDEX, TEST_SEED = 10, 5, 2, 2


def known_sequences(trained_run, count: int) -> list[list[int]]:
    """First rows of the run's own test set; at test/acc 1.0 the model echoes each of them right."""
    assert read_metrics(trained_run)["test/acc"] == 1.0
    generator = seeded_generator(TEST_SEED, SEQ_LENGTH, N_FEATURES)
    return generate_values(count, SEQ_LENGTH, N_FEATURES, generator).tolist()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("3,1,4,1,5", [3, 1, 4, 1, 5]),
        ("3 1 4 1 5", [3, 1, 4, 1, 5]),
        (" 3, 1 ,4,  1,5 ", [3, 1, 4, 1, 5]),
        ("[3, 1, 4, 1, 5]", [3, 1, 4, 1, 5]),
        ([3, 1, 4, 1, 5], [3, 1, 4, 1, 5]),
    ],
)
def test_parse_sequence_accepts_separators(text, expected):
    assert parse_sequence(text, N_FEATURES, SEQ_LENGTH) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty sequence: must be 5 integers in 0..9"),
        ("[]", "empty sequence: must be 5 integers in 0..9"),
        ("3,1,10,1,5", "invalid value 10 at index 2: must be an integer in 0..9 (the run's n_features=10)"),
        ("3 -1 4 1 5", "invalid value -1 at index 1: must be an integer in 0..9"),
        ("3 1 4.0 1 5", "invalid value '4.0' at index 2: must be an integer in 0..9"),
        ("3 1 four 1 5", "invalid value 'four' at index 2: must be an integer in 0..9"),
        ([3, 1, True, 1, 5], "invalid value 'True' at index 2: must be an integer in 0..9"),
        ("3,,1,4,1", "missing value at index 1: two separators in a row"),
        ("3 1 4 1", "invalid length 4: must be 5 values (the run's seq_length)"),
        ("3 1 4 1 5 9", "invalid length 6: must be 5 values (the run's seq_length)"),
    ],
)
def test_parse_sequence_rejects_bad_input(text, message):
    with pytest.raises(SequenceError) as error:
        parse_sequence(text, N_FEATURES, SEQ_LENGTH)
    assert str(error.value).startswith(message)


@pytest.mark.slow
def test_sequence_gets_its_echo(trained_run):
    (sequence,) = known_sequences(trained_run, 1)
    result = run_script("predict.py", f"run={trained_run}", f"sequence=[{','.join(map(str, sequence))}]")
    assert result.returncode == 0, result.stderr[-3000:]

    (line,) = result.stdout.splitlines()
    assert line.startswith(f"predicted {sequence[ECHO_INDEX]} (p=")
    assert line.count("(p=") == 4  # the prediction and 3 alternatives


@pytest.mark.slow
def test_file_with_bad_line_predicts_the_rest(trained_run, tmp_path):
    first, second = known_sequences(trained_run, 2)
    path = tmp_path / "sequences.txt"
    path.write_text(f"{','.join(map(str, first))}\n1 2 x 4 5\n\n{' '.join(map(str, second))}\n")
    result = run_script("predict.py", f"run={trained_run}", f"file={path}")

    assert result.returncode == 2
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"line 1: predicted {first[ECHO_INDEX]} (p=")
    assert lines[1].startswith(f"line 4: predicted {second[ECHO_INDEX]} (p=")
    assert "error: line 2: invalid value 'x' at index 2: must be an integer in 0..9" in result.stderr
    assert "error: 1 of 3 input lines invalid" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_stdin_json_has_one_object_per_line(trained_run):
    first, second = known_sequences(trained_run, 2)
    text = f"{' '.join(map(str, first))}\n1 2 3\n{' '.join(map(str, second))}\n"
    # conftest.run_script has no standard input, so this calls the script the same way with one.
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "predict.py"), f"run={trained_run}", "file=-", "json=true", "alternatives=2"],
        input=text,
        capture_output=True,
        text=True,
        timeout=300,
    )

    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 2
    assert [record["line"] for record in records] == [1, 2, 3]
    assert records[0]["predicted"] == first[ECHO_INDEX]
    assert records[0]["sequence"] == first
    assert len(records[0]["alternatives"]) == 2
    assert 0.5 < records[0]["probability"] <= 1.0
    assert records[1] == {"line": 2, "input": "1 2 3", "error": "invalid length 3: must be 5 values (the run's seq_length)"}
    assert records[2]["predicted"] == second[ECHO_INDEX]


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, message",
    [
        (["sequence=[1,2,3,4,10]"], "error: invalid value 10 at index 4: must be an integer in 0..9"),
        (["sequence=[1,2,3,4]"], "error: invalid length 4: must be 5 values"),
        (["sequence=[1,2,x,4,5]"], "error: invalid value 'x' at index 2: must be an integer in 0..9"),
        (["sequence=[]"], "error: empty sequence: must be 5 integers in 0..9"),
        ([], "error: missing input: set sequence=[v0,v1,...] or file=<path>"),
    ],
)
def test_bad_input_is_one_line_error(trained_run, args, message):
    result = run_script("predict.py", f"run={trained_run}", *args)
    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert len(result.stderr.splitlines()) == 1
    assert result.stdout == ""


@pytest.mark.slow
def test_empty_file_is_error(trained_run, tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text("\n  \n")
    result = run_script("predict.py", f"run={trained_run}", f"file={path}")
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: empty input: {path} has no sequences; write one sequence per line"
