"""Settings from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervise.config import ConfigError, Settings


def test_defaults_to_a_sqlite_file() -> None:
    settings = Settings.from_env({})
    assert settings.url == "sqlite+aiosqlite:///./supervise.db"
    assert settings.is_sqlite


def test_plain_urls_get_the_async_drivers() -> None:
    env = {"SUPERVISE_DATABASE_URL": "postgresql://u@db:5432/supervise", "SUPERVISE_MAX_BODY_BYTES": "2048"}
    settings = Settings.from_env(env)
    assert settings.url == "postgresql+asyncpg://u@db:5432/supervise"
    assert settings.max_body_bytes == 2048
    with pytest.raises(ConfigError, match="SUPERVISE_MAX_BODY_BYTES"):
        Settings.from_env({"SUPERVISE_MAX_BODY_BYTES": "lots"})
    with pytest.raises(ConfigError, match="sqlite:// or postgresql://"):
        _ = Settings(database_url="mysql://x/y").url


def test_postgres_needs_a_shared_secret() -> None:
    with pytest.raises(ConfigError, match="SUPERVISE_SECRET_KEY is required"):
        Settings(database_url="postgresql://u@db/s").server_secret()
    with pytest.raises(ConfigError, match="at least 32"):
        Settings(secret_key="short").server_secret()


def test_sqlite_keeps_a_private_secret_beside_the_database(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'data' / 'x.db'}")
    first = settings.server_secret()
    assert settings.server_secret() == first
    secret_file = tmp_path / "data" / "x.db.secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    assert len(first) >= 32
