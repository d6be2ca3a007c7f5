"""Bad input gives one clear message and exit 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmlib.cli import main

HEADER = "order_id,customer_id,ordered_at,amount\n"


def run_cli(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def good_rows(n: int = 60) -> str:
    return "".join(f"O{i},C{i % 7},2024-01-{1 + i % 28:02d},{1000 + i}\n" for i in range(n))


CASES = {
    "empty": (b"", ["is empty"]),
    "blank": (b"\n\n  \n", ["is empty"]),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8, ["binary file"]),
    # a Windows-1252 export (é = 0xE9 followed by ',' is invalid in both UTF-8 and CP932)
    "undecodable": ((HEADER + "O1,Café,2024-01-01,100\n").encode("cp1252"), ["neither UTF-8 nor CP932"]),
    "header_only": (HEADER.encode(), ["header but no order rows"]),
    "missing_column": (b"order_id,client,amount\nO1,C1,100\n",
                       ["ordered_at", "Columns found", "'order_id', 'client', 'amount'"]),
    "bad_dates": ((HEADER + "".join(f"O{i},C1,yesterday,100\n" for i in range(50))).encode(),
                  ["order dates cannot be read", "column 'ordered_at'", "date_format", "line 2: 'yesterday'"]),
    "negative": ((HEADER + "".join(f"O{i},C1,2024-01-02,-{100 + i}\n" for i in range(50))
                  + good_rows(20)).encode(), ["negative", "50 of 70 rows"]),
    "non_numeric": ((HEADER + good_rows() + "".join(f"X{i},C1,2024-01-02,n/a\n" for i in range(9))).encode(),
                    ["not numbers", "column 'amount'", "9 of 69 rows"]),
    "ragged": (b'order_id,customer_id,ordered_at,amount\nO1,C1,2024-01-01,100\n"O2,C1,2024-01-02,100\n',
               []),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file_gives_clear_message_and_exit_2(case, tmp_path, capsys):
    content, phrases = CASES[case]
    path = tmp_path / "orders.csv"
    path.write_bytes(content)
    code, text = run_cli(capsys, "validate", str(path))
    assert code == 2, text
    assert "Traceback" not in text and "internal error" not in text
    assert text.startswith("error: ") and str(path) in text
    assert "What to do:" in text
    for phrase in phrases:
        assert phrase in text, text


def test_missing_column_suggests_the_closest_name(tmp_path, capsys):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,order_dte,amount\nO1,C1,2024-01-01,100\n", encoding="utf-8")
    code, text = run_cli(capsys, "validate", str(path))
    assert code == 2
    assert "closest columns: 'order_dte'" in text


def test_wrong_declared_encoding(tmp_path, capsys):
    path = tmp_path / "sjis.csv"
    path.write_bytes((HEADER + "O1,C1,2024-01-01,100\n" + "O2,顧客,2024-01-02,200\n").encode("cp932"))
    code, text = run_cli(capsys, "validate", str(path), "--encoding", "utf-8")
    assert code == 2 and "not valid utf-8" in text and "reads as cp932" in text


def test_missing_file_and_unknown_preset(tmp_path, capsys):
    code, text = run_cli(capsys, "validate", str(tmp_path / "nope.csv"))
    assert code == 2 and "no such file" in text
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + good_rows(), encoding="utf-8")
    code, text = run_cli(capsys, "validate", str(path), "--preset", "shopfy")
    assert code == 2 and "unknown preset 'shopfy'" in text and "did you mean 'shopify'" in text


def test_good_file_exits_0_and_prints_the_ledger(tmp_path, capsys):
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + good_rows(60) + "X1,C1,2024-01-02,0\n", encoding="utf-8")
    code, text = run_cli(capsys, "validate", str(path))
    assert code == 0, text
    assert "61" in text and "Excluded: Zero amount" in text
    assert "Reconciles (rows and amounts, exactly): yes" in text
    assert "Customers: 7" in text


def write_yaml(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "client.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_misspelled_yaml_key_names_file_key_and_fix(tmp_path, capsys):
    cfg = write_yaml(tmp_path, "name: acme\ndata: orders.csv\npreset: generic\nlnag: en\n")
    code, text = run_cli(capsys, "validate", "--config", str(cfg))
    assert code == 2
    assert str(cfg) in text and "unknown key 'lnag'" in text and "Did you mean 'lang'?" in text


def test_wrong_type_in_yaml(tmp_path, capsys):
    cfg = write_yaml(tmp_path, "name: acme\ndata: orders.csv\nlang: fr\nrules:\n  exclude_cancelled: maybe\n")
    code, text = run_cli(capsys, "validate", "--config", str(cfg))
    assert code == 2
    assert "key 'lang'" in text and "'ja' or 'en'" in text
    assert "key 'rules.exclude_cancelled'" in text


@pytest.mark.parametrize("section, message", [
    ("strategy:\n  execution_log: logs/execution.csv\n", "strategy.execution_log: no such file"),
    ("report:\n  logo: logo.png\n", "report.logo: no such file"),
])
def test_validate_config_checks_the_other_files_it_names(section, message, tmp_path, capsys):
    # the data file is fine; a file the report needs is missing: validate says so before `run` does
    (tmp_path / "orders.csv").write_text(
        "order_id,customer_id,ordered_at,amount\nA1,C1,2024-01-05,1000\n", encoding="utf-8")
    cfg = write_yaml(tmp_path, f"name: acme\ndata: orders.csv\npreset: generic\n{section}")
    code, text = run_cli(capsys, "validate", "--config", str(cfg))
    assert code == 2 and message in text, text
    assert str(tmp_path) in text  # the path it looked for


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", ".hidden", "with space", ""])
def test_client_name_that_escapes_reports_folder_is_refused(name, tmp_path, capsys):
    cfg = write_yaml(tmp_path, f"name: '{name}'\ndata: orders.csv\n")
    code, text = run_cli(capsys, "validate", "--config", str(cfg))
    assert code == 2 and "key 'name'" in text
    code, text = run_cli(capsys, "init", name, "--output", str(tmp_path / "x.yaml"))
    assert code == 2


def test_yaml_is_loaded_safely(tmp_path, capsys):
    cfg = write_yaml(tmp_path, "name: !!python/object/apply:os.system ['echo pwned']\ndata: x.csv\n")
    code, text = run_cli(capsys, "validate", "--config", str(cfg))
    assert code == 2 and "not valid YAML" in text and "pwned" not in text.replace("echo pwned", "")


def test_init_writes_a_template_that_validates(tmp_path, capsys):
    from crmlib.config import load_config

    target = tmp_path / "acme.yaml"
    code, _ = run_cli(capsys, "init", "acme", "--output", str(target))
    assert code == 0
    cfg = load_config(target)
    # no `preset:` without --data: the cart is detected from the data file at each run
    assert cfg.name == "acme" and cfg.lang == "ja" and cfg.preset is None
    code, text = run_cli(capsys, "init", "acme", "--output", str(target))
    assert code == 2 and "already exists" in text
