"""config is pure apart from load(): no video, no TensorFlow."""

import dataclasses
import math
from pathlib import Path

import pytest
import toml

from dunkwatch import config, config_docs
from dunkwatch.config import describe, from_dict, load
from dunkwatch.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_empty_config_gives_the_embedded_defaults(tmp_path):
    cfg = from_dict({}, tmp_path)
    assert cfg.segment.threshold_cnn == 0.95
    assert cfg.paths.inbox == tmp_path / "inbox"
    assert cfg.score.scorer == "auto"


def test_shipped_config_toml_lists_every_key_with_its_default():
    data = toml.loads((REPO / "config.toml").read_text())
    listed = {f"{s}.{k}" for s, values in data.items() for k in values}
    assert listed == {key for key, _, _ in describe()}
    assert dataclasses.replace(load(REPO / "config.toml"), source=None) == from_dict({}, REPO)


def test_every_key_has_a_description():
    for key, _, doc in describe():
        assert doc and len(doc) > 10, key


def test_paths_resolve_against_the_config_files_folder(tmp_path):
    sub = tmp_path / "conf"
    sub.mkdir()
    (sub / "dw.toml").write_text('[paths]\ninbox = "../drop"\noutbox = "/abs/out"\n')
    cfg = load(sub / "dw.toml")
    assert cfg.paths.inbox == sub / "../drop"
    assert cfg.paths.outbox == Path("/abs/out")
    assert cfg.paths.state_dir == sub / "state"


@pytest.mark.parametrize(
    "data, words",
    [
        ({"segment": {"treshold_cnn": 0.9}}, ["segment.treshold_cnn", "unknown"]),
        ({"segmnt": {}}, ["[segmnt]", "unknown"]),
        ({"segment": {"merge_gap": "2s"}}, ["segment.merge_gap", "'2s'", "number"]),
        ({"segment": {"pre_roll": -1}}, ["segment.pre_roll", "-1", "between"]),
        ({"decode": {"sample_fps": 0}}, ["decode.sample_fps", "0", "between"]),
        ({"decode": {"sample_fps": math.nan}}, ["decode.sample_fps", "nan"]),
        ({"score": {"batch_size": 2.5}}, ["score.batch_size", "2.5", "integer"]),
        ({"score": {"batch_size": True}}, ["score.batch_size", "True", "integer"]),
        ({"score": {"scorer": "yolo"}}, ["score.scorer", "'yolo'", "auto, motion, cnn"]),
        ({"export": {"highlight_reel": "yes"}}, ["export.highlight_reel", "'yes'", "true or false"]),
        ({"export": {"crf": 99}}, ["export.crf", "99"]),
        ({"paths": {"inbox": 3}}, ["paths.inbox", "3", "path"]),
        ({"paths": {"inbox": ""}}, ["paths.inbox", "path"]),
        ({"segment": {"hysteresis": 0.6}}, ["segment.hysteresis", "0.6", "threshold_motion"]),
        ({"export": {"mode": "copy", "slow_motion": 2.0}}, ["export.slow_motion", "2.0", "reencode"]),
        ({"segment": 3}, ["segment", "table"]),
    ],
)
def test_bad_values_name_the_key_and_the_value(tmp_path, data, words):
    with pytest.raises(ConfigError) as err:
        from_dict(data, tmp_path)
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_an_int_is_accepted_where_a_number_is_expected(tmp_path):
    assert from_dict({"segment": {"merge_gap": 2}}, tmp_path).segment.merge_gap == 2.0


def test_invalid_toml_and_missing_file_name_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[segment\nmerge_gap = 1\n")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        load(bad)
    with pytest.raises(ConfigError, match="nope.toml: config file not found"):
        load(tmp_path / "nope.toml")


def test_load_without_a_path_uses_cwd_config_or_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load(None).source is None
    (tmp_path / config.DEFAULT_CONFIG_NAME).write_text("[decode]\nsample_fps = 2.0\n")
    assert load(None).decode.sample_fps == 2.0


def test_a_bom_is_tolerated(tmp_path):
    f = tmp_path / "c.toml"
    f.write_bytes("\ufeff[decode]\nsample_fps = 3.0\n".encode("utf-8"))
    assert load(f).decode.sample_fps == 3.0


def test_readme_documents_every_config_key_with_its_default():
    readme = (REPO / "README.md").read_text()
    assert config_docs.render_markdown_table() in readme, (
        "regenerate the README table from config_docs.render_markdown_table()"
    )
    assert (REPO / "config.toml").read_text() == config_docs.render_toml(), (
        "regenerate config.toml from config_docs.render_toml()"
    )


def test_list_settings_take_lists_of_strings(tmp_path):
    cfg = from_dict({"watch": {"extensions": ["mp4", "MTS"]}}, tmp_path)
    assert cfg.watch.extensions == ("mp4", "MTS")
    with pytest.raises(ConfigError, match="watch.extensions"):
        from_dict({"watch": {"extensions": "mp4"}}, tmp_path)
    with pytest.raises(ConfigError, match="watch.ignore"):
        from_dict({"watch": {"ignore": ["ok", ""]}}, tmp_path)


@pytest.mark.parametrize("key", ["outbox", "archive", "quarantine", "state_dir"])
def test_folders_inside_the_inbox_are_refused(tmp_path, key):
    with pytest.raises(ConfigError, match=f"paths.{key}"):
        from_dict({"paths": {"inbox": "drop", key: "drop/sub"}}, tmp_path)
    with pytest.raises(ConfigError, match=f"paths.{key}"):
        from_dict({"paths": {"inbox": "drop/in", key: "drop"}}, tmp_path)


def test_a_retired_key_is_ignored_with_one_warning_and_an_unknown_one_still_refused(tmp_path, caplog):
    # A config written for the version with three frame readers keeps loading after the upgrade.
    cfg = from_dict({"decode": {"reader": "opencv", "sample_fps": 4}}, tmp_path)
    assert cfg.decode.sample_fps == 4 and not hasattr(cfg.decode, "reader")
    assert [r.getMessage() for r in caplog.records if "decode.reader" in r.getMessage()] == [
        "config key decode.reader is no longer used and is ignored: " + config.RETIRED_KEYS["decode.reader"]
    ]
    with pytest.raises(ConfigError, match="decode.readr is unknown"):
        from_dict({"decode": {"readr": "pyav"}}, tmp_path)
