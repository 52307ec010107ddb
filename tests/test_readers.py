import pandas as pd
import pytest

from dunning.errors import InputError
from dunning.sources.readers import read_table

ROWS = [["order_id", "name"], ["1", "Jürgen Müller"], ["2", "Zoë"]]


def text(rows, sep=","):
    return "\r\n".join(sep.join(r) for r in rows) + "\r\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_csv_encodings_excel_writes(tmp_path, encoding):
    path = tmp_path / "x.csv"
    path.write_bytes(text(ROWS).encode(encoding))
    frame = read_table(path)
    assert list(frame.columns) == ["order_id", "name"]
    assert list(frame["name"]) == ["Jürgen Müller", "Zoë"]


def test_semicolons_are_sniffed(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(text(ROWS, ";"), "utf-8")
    assert read_table(path)["name"].iloc[0] == "Jürgen Müller"


def test_wrong_delimiter_is_one_clear_sentence(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(text(ROWS, ";"), "utf-8")
    with pytest.raises(InputError, match="only one column found with delimiter ','; the header looks ';'-separated"):
        read_table(path, delimiter=",")


def test_empty_and_header_only_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="the file is empty"):
        read_table(empty)
    header = tmp_path / "header.csv"
    header.write_text("a,b\n")
    with pytest.raises(InputError, match="header but no rows"):
        read_table(header)


def test_unknown_encoding_is_reported(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"a,b\n1,\x81\x8d\x8f\x90\x9d\n")
    with pytest.raises(InputError, match="unknown encoding"):
        read_table(path)


def test_xlsx_and_parquet(tmp_path):
    frame = pd.DataFrame({"order_id": ["1", "2"], "amount": ["149.70", "3"]})
    frame.to_excel(tmp_path / "x.xlsx", index=False)
    frame.to_parquet(tmp_path / "x.parquet")
    for name in ("x.xlsx", "x.parquet"):
        got = read_table(tmp_path / name)
        assert list(got["amount"]) == ["149.70", "3"]


def test_broken_workbook_is_one_sentence(tmp_path):
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable XLSX"):
        read_table(path)


@pytest.mark.parametrize("start", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("end", ["", ",\r\n\r\n \t\r\n", ",,\n"])
def test_an_ascii_file_is_read_from_its_own_bytes_without_the_blank_lines_at_its_end(tmp_path, start, end):
    rows = [["order_id", "name"], ["1", "Ada"], ["2", "Bo"]]
    path = tmp_path / "x.csv"
    path.write_bytes(start + (text(rows) + end).encode("ascii"))
    frame = read_table(path)
    assert list(frame.columns) == ["order_id", "name"] and frame.values.tolist() == [["1", "Ada"], ["2", "Bo"]]
    assert frame.attrs["blank_rows"] == end.count("\n")
    assert read_table(path, encoding="utf-8-sig").values.tolist() == frame.values.tolist()  # encoded again: the same
