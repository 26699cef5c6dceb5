"""Settings: one frozen object from env > config file > defaults."""

import dataclasses
from pathlib import Path

import pytest

from opsgraph.settings import SettingsError, load_settings


def test_defaults_are_offline_without_key_or_base_url(tmp_path):
    s = load_settings(env={}, cwd=tmp_path)
    assert s.small.model == "offline:small" and s.large.model == "offline:large"
    assert s.data_home == tmp_path / ".opsgraph"
    assert s.effective_checkpoint_url == f"sqlite:///{tmp_path / '.opsgraph' / 'checkpoints.db'}"
    assert s.langsmith_enabled is False


def test_openai_key_switches_default_models_and_is_masked(tmp_path):
    s = load_settings(env={"OPENAI_API_KEY": "sk-secret-123456"}, cwd=tmp_path)
    assert s.small.model.startswith("openai:") and s.large.model.startswith("openai:")
    assert "secret" not in str(s.describe()) and "secret" not in repr(s)


def test_base_url_alone_selects_openai_provider(tmp_path):
    s = load_settings(env={"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}, cwd=tmp_path)
    assert s.small.model.startswith("openai:")
    assert s.describe()["small_base_url"] == "http://127.0.0.1:8000/v1"


def test_env_beats_config_file_beats_default(tmp_path):
    (tmp_path / "opsgraph.yaml").write_text("small_model: openai:from-file\nlarge_model: openai:big-file\nworld_seed: 11\n")
    s = load_settings(env={"OPSGRAPH_SMALL_MODEL": "openai:from-env"}, cwd=tmp_path)
    assert s.small.model == "openai:from-env"
    assert s.large.model == "openai:big-file"
    assert s.world_seed == 11
    assert s.config_file == tmp_path / "opsgraph.yaml"


def test_per_tier_endpoints(tmp_path):
    env = {"OPSGRAPH_SMALL_BASE_URL": "http://127.0.0.1:1/v1", "OPSGRAPH_LARGE_API_KEY": "k-large-abcdef"}
    s = load_settings(env=env, cwd=tmp_path)
    assert s.tier("small").base_url == "http://127.0.0.1:1/v1"
    assert s.tier("large").api_key == "k-large-abcdef"
    with pytest.raises(SettingsError):
        s.tier("medium")


def test_settings_are_frozen(tmp_path):
    s = load_settings(env={}, cwd=tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.world_seed = 3  # type: ignore[misc]


@pytest.mark.parametrize("content", ["[unclosed", "- just\n- a list\n"])
def test_bad_config_file_is_a_clear_error(tmp_path, content):
    (tmp_path / "opsgraph.yaml").write_text(content)
    with pytest.raises(SettingsError, match="opsgraph.yaml"):
        load_settings(env={}, cwd=tmp_path)


def test_missing_config_file_named_by_env_is_an_error(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(env={"OPSGRAPH_CONFIG": str(tmp_path / "nope.yaml")}, cwd=tmp_path)


def test_non_integer_seed_is_an_error(tmp_path):
    with pytest.raises(SettingsError, match="world_seed"):
        load_settings(env={"OPSGRAPH_WORLD_SEED": "seven"}, cwd=tmp_path)


def test_langsmith_only_with_key(tmp_path):
    assert load_settings(env={"LANGSMITH_API_KEY": "lsv2-x"}, cwd=tmp_path).langsmith_enabled
    assert not load_settings(env={"LANGSMITH_API_KEY": "lsv2-x", "LANGSMITH_TRACING": "false"}, cwd=tmp_path).langsmith_enabled


def test_one_database_url_moves_checkpoints_and_is_masked(tmp_path):
    url = "postgresql://ops:secret@db.internal:5432/ops"
    settings = load_settings({"OPSGRAPH_DATABASE_URL": url}, cwd=tmp_path)
    assert settings.shared_postgres_url == url
    assert settings.effective_checkpoint_url == url
    assert "secret" not in str(settings.describe()["database_url"])
    own = load_settings({"OPSGRAPH_DATABASE_URL": url, "OPSGRAPH_CHECKPOINT_URL": "sqlite:////tmp/c.db"}, cwd=tmp_path)
    assert own.effective_checkpoint_url == "sqlite:////tmp/c.db"


def test_database_url_must_be_postgres(tmp_path):
    assert load_settings({"OPSGRAPH_DATABASE_URL": " "}, cwd=tmp_path).shared_postgres_url is None
    with pytest.raises(SettingsError, match="postgresql://"):
        load_settings({"OPSGRAPH_DATABASE_URL": "sqlite:///x.db"}, cwd=tmp_path)
