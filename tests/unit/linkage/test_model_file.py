"""A fitted model read back (the cache's model_fit.json, a pinned [linkage] model): every field is checked in
FellegiSunter.from_json, and a damaged file is refused naming the file and the field, never used."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from linkage_models import even_model

from dpt_pipeline.errors import ConfigError, StorageError
from dpt_pipeline.linkage import comparisons as compare
from dpt_pipeline.linkage import dpt
from dpt_pipeline.linkage import model as score

CSET = dpt.dpt_comparisons()


model = even_model


def as_dict() -> dict[str, Any]:
    return json.loads(model().to_json())


def level(d: dict[str, Any], comparison: str, code: str) -> dict[str, Any]:
    comp = next(c for c in d["comparisons"] if c["name"] == comparison)
    return next(lv for lv in comp["levels"] if lv["code"] == code)


def setter(comparison: str, code: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(d: dict[str, Any]) -> None:
        level(d, comparison, code)[key] = value
    return change


def drop_level(d: dict[str, Any]) -> None:
    """nama loses its last level; m and u renormalised, so only the count is wrong."""
    comp = d["comparisons"][0]
    comp["levels"].pop()
    for key in ("m", "u"):
        total = sum(lv[key] for lv in comp["levels"][1:])
        for lv in comp["levels"][1:]:
            lv[key] /= total


def test_a_model_reads_back_as_it_was_written() -> None:
    m = model()
    again = score.FellegiSunter.from_json(m.to_json(), "x.json", CSET)
    assert again == m
    again.check(CSET)


def test_a_fitted_model_with_nan_is_not_written() -> None:
    m = model()
    m.comparisons[0].m[2] = math.nan
    with pytest.raises(ValueError):
        m.to_json()


BAD: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("m NaN", setter("nama", "spasi_urutan", "m", math.nan), "comparison 'nama' level 2 (spasi_urutan): m is NaN"),
    ("u Infinity", setter("nik", "sama", "u", math.inf), "comparison 'nik' level 1 (sama): u is Infinity"),
    ("m -Infinity", setter("nik", "sama", "m", -math.inf), "m is -Infinity"),
    ("m 0", setter("nama", "sama", "m", 0), "comparison 'nama' level 1 (sama): m is 0.0, not strictly between"),
    ("u 0.0", setter("nama", "beda", "u", 0.0), "u is 0.0, not strictly between 0 and 1"),
    ("m 1", setter("nama", "sama", "m", 1), "m is 1.0, not strictly between 0 and 1"),
    ("u negative", setter("tempat_lahir", "mirip", "u", -0.2), "comparison 'tempat_lahir' level 2 (mirip): u is -0.2"),
    ("null level NaN", setter("nama", "null", "m", math.nan), "comparison 'nama' level 0 (null): m is NaN"),
    ("m a string", setter("nama", "sama", "m", "0.5"), "comparison 'nama' level 1: 'm' is a string, not a number"),
    ("m true", setter("nama", "sama", "m", True), "'m' is true or false, not a number"),
    ("m null", setter("nama", "sama", "m", None), "'m' is null, not a number"),
    ("m beyond any float", setter("nama", "sama", "m", 10**400), "'m' is a number too large"),
    ("m missing", lambda d: level(d, "nama", "sama").pop("m"), "comparison 'nama' level 1: key 'm' is missing"),
    ("u missing", lambda d: level(d, "pola", "kembar").pop("u"), "comparison 'pola' level 1: key 'u' is missing"),
    ("code missing", lambda d: level(d, "nama", "sama").pop("code"), "key 'code' is missing"),
    ("lambda missing", lambda d: d.pop("lambda"), "the file: key 'lambda' is missing"),
    ("lambda NaN", lambda d: d.update({"lambda": math.nan}), "lambda is NaN, not strictly between 0 and 1"),
    ("lambda 0", lambda d: d.update({"lambda": 0}), "lambda is 0.0, not strictly between 0 and 1"),
    ("lambda 1", lambda d: d.update({"lambda": 1.0}), "lambda is 1.0"),
    ("lambda negative", lambda d: d.update({"lambda": -1e-6}), "lambda is -1e-06"),
    ("lambda a string", lambda d: d.update({"lambda": "1e-6"}), "'lambda' is a string, not a number"),
    ("comparisons missing", lambda d: d.pop("comparisons"), "key 'comparisons' is missing"),
    ("comparisons an object", lambda d: d.update({"comparisons": {}}), "'comparisons' is an object, not an array"),
    ("no comparisons", lambda d: d.update({"comparisons": []}), "no comparisons"),
    ("a comparison a list", lambda d: d["comparisons"].__setitem__(1, []), "comparison 1 is an array, not an object"),
    ("a level a number", lambda d: d["comparisons"][0]["levels"].__setitem__(3, 0.5),
     "comparison 'nama' level 3 is a number, not an object"),
    ("model key missing", lambda d: d.pop("model"), "key 'model' is missing"),
    ("another model", lambda d: d.update({"model": "logistic"}), "'model' is not \"fellegi-sunter\""),
    ("em_iterations negative", lambda d: d.update({"em_iterations": -1}), "'em_iterations' is negative"),
    ("fixed weight NaN", setter("pola", "kembar", "weight", math.nan),
     "comparison 'pola' level 1 (kembar): fixed weight is NaN"),
    ("fixed weight missing", lambda d: level(d, "pola", "kembar").pop("weight"), "a fixed level without 'weight'"),
    ("learned weight NaN", setter("nama", "sama", "weight", math.nan), "comparison 'nama' level 1: weight is NaN"),
    ("fixed not a flag", setter("pola", "kembar", "fixed", "yes"), "'fixed' is a string, not true or false"),
    ("m does not sum to 1", setter("nama", "sama", "m", 0.5), "comparison 'nama': m sums to 1.375"),
    ("a level code twice", setter("nama", "fonetik", "code", "sama"), "comparison 'nama': a level code appears twice"),
    ("no null level first", setter("nama", "null", "code", "kosong"), "the levels must start with 'null'"),
    ("a comparison twice", lambda d: d["comparisons"].__setitem__(1, copy.deepcopy(d["comparisons"][0])),
     "comparison 'nama' appears twice"),
    # Against the engine's comparisons (from_json with cset, check)
    ("wrong level count", drop_level, "comparison 'nama' has 8 levels, the engine's 9"),
    ("a level renamed", setter("nama", "fonetik", "code", "phonetic"),
     "comparison 'nama': levels ['null', 'sama', 'spasi_urutan', 'phonetic'"),
    ("a comparison renamed", lambda d: d["comparisons"][0].update({"name": "name"}),
     "comparisons ['name', 'nik'"),
    ("a fixed level no longer fixed", lambda d: level(d, "pola", "kembar").pop("fixed"),
     "comparison 'pola': fixed-weight levels"),
    ("a learned level fixed", setter("nama", "sama", "fixed", True), "comparison 'nama': fixed-weight levels"),
]


@pytest.mark.parametrize(("change", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_damaged_model_is_refused_naming_the_file_and_the_field(change, message: str, tmp_path: Path) -> None:
    d = as_dict()
    change(d)
    text = json.dumps(d)          # NaN and Infinity as Python's json writes them (and reads them)
    with pytest.raises(score.ModelFileError) as err:
        score.FellegiSunter.from_json(text, "pinned.json", CSET)
    assert message in str(err.value)
    assert str(err.value).startswith("pinned.json: not a usable fitted model: ")
    assert err.value.exit_code == 2 and isinstance(err.value, ConfigError)
    # The same through a file, as the pipeline reads a pinned model.
    path = tmp_path / "pinned_model.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=f"^{path}: .*{_re(message)}"):
        score.FellegiSunter.load(path, CSET)


def _re(s: str) -> str:
    import re
    return re.escape(s)


@pytest.mark.parametrize("name", [b[0] for b in BAD[-5:]])
def test_a_model_of_other_comparisons_is_refused_by_check(name: str) -> None:
    """The pipeline loads a pinned model without the comparisons and calls check; score calls it too."""
    change = next(b[1] for b in BAD if b[0] == name)
    d = as_dict()
    change(d)
    m = score.FellegiSunter.from_json(json.dumps(d))     # no cset: only what needs none is checked
    with pytest.raises(ConfigError, match="refit"):
        m.check(CSET, "pinned.json")


def test_check_refuses_a_model_whose_numbers_went_bad() -> None:
    m = model()
    m.comparisons[1].u[1] = math.nan
    with pytest.raises(ConfigError, match="comparison 'nik' level 1 \\(sama\\): u is NaN"):
        m.check(CSET)


@pytest.mark.parametrize(("data", "message"), [
    (b"\xff\xfe{}", "not UTF-8 text (byte 0)"),
    ('{"model": "fellegi-sunter", "lambda": 1e-6, "comparisons": [{"name": "nama\udcff"}]}'.encode(
        "utf-8", "surrogatepass"), "not UTF-8 text (byte 74)"),
    (b"", "not valid JSON (line 1, column 1: Expecting value)"),
    (b'{"lambda": 1e-6,', "not valid JSON (line 1, column 17"),
    (b"[1, 2, 3]", "the file holds an array, not a JSON object"),
    (b'"model"', "the file holds a string, not a JSON object"),
    (b"null", "the file holds null, not a JSON object"),
    (b"[" * 100_000 + b"]" * 100_000, "not valid JSON (RecursionError)"),
    (b'{"m": ' + b"1" * 5000 + b"}", "not valid JSON (ValueError)"),
])
def test_a_file_that_is_no_model_is_refused(data: bytes, message: str, tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as err:
        score.FellegiSunter.load(path, CSET)
    assert str(err.value).startswith(f"{path}: not a usable fitted model: {message}")


def test_strings_from_a_damaged_model_are_not_repeated() -> None:
    """A damaged file may hold anything (a pasted voter's name): a name or code that is no identifier is
    not copied into the message."""
    d = as_dict()
    d["comparisons"][0]["name"] = "BUDI SANTOSO 6408134505800001"
    with pytest.raises(ConfigError) as err:
        score.FellegiSunter.from_json(json.dumps(d), "m.json", CSET)
    assert "BUDI" not in str(err.value) and "6408" not in str(err.value) and "(garbled)" in str(err.value)
    d = as_dict()
    level(d, "nama", "sama")["code"] = "SITI AMINAH"
    with pytest.raises(ConfigError) as err:
        score.FellegiSunter.from_json(json.dumps(d), "m.json", CSET)
    assert "SITI" not in str(err.value)


def test_a_model_file_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="a directory, not a regular file"):
        score.FellegiSunter.load(tmp_path, CSET)                 # a folder, not a file
    big = tmp_path / "voters.json"
    big.write_bytes(b" " * (score.MAX_MODEL_BYTES + 1))
    with pytest.raises(ConfigError, match="a fitted model is a few kilobytes"):
        score.FellegiSunter.load(big, CSET)


def test_score_refuses_a_damaged_model(make_records) -> None:
    """The claim every pair made today by a NaN model: score checks the model before it scores."""
    import polars as pl

    from dpt_pipeline.linkage import blocking as block

    recs = make_records([{"nik": "6408134505800001"}, {"nik": "6408134505800001"}])
    pairs = compare.compare(recs, pl.DataFrame({"rid_l": [0], "rid_r": [1]}, schema=block.PAIR_SCHEMA), CSET)
    m = model()
    assert score.score(pairs, recs, CSET, m)["match_probability"].is_finite().all()
    m.lambda_ = math.nan
    with pytest.raises(ConfigError, match="lambda is NaN"):
        score.score(pairs, recs, CSET, m)
