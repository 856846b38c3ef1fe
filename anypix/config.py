"""Settings: defaults < TOML file in the user config dir < ``ANYPIX_*`` environment < CLI flags.

The TOML file is ``<user config dir>/anypix/config.toml`` (``anypix models`` prints the path), or
the file named by ``ANYPIX_CONFIG``. Example::

    model = "sd15"
    llm = "openai"
    llm_base_url = "http://127.0.0.1:8000/v1"
    llm_model = "lmsys/vicuna-7b-v1.5"

    [model_paths]
    sd15 = "/models/stable-diffusion-v1-5"
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from anypix.errors import ConfigError

BUILTIN_LLMS = ("auto", "fast", "smollm2", "planner", "openai", "fake")  # others come from plugins


def _default_model() -> str:
    from anypix.models.registry import DEFAULT_MODEL

    return DEFAULT_MODEL


def _user_dir(kind: Literal["data", "config"]) -> Path:
    import platformdirs

    if kind == "data":
        return Path(platformdirs.user_data_dir("anypix", appauthor=False))
    return Path(platformdirs.user_config_dir("anypix", appauthor=False))


def config_file() -> Path:
    return Path(os.environ.get("ANYPIX_CONFIG") or _user_dir("config") / "config.toml")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ANYPIX_", extra="forbid", validate_default=True, env_nested_delimiter="__"
    )

    data_dir: Path = Field(
        default_factory=lambda: _user_dir("data"),
        description="where sessions (SQLite) and assets live",
    )
    # the registry's default: a model that ships in the package and renders with no download
    model: str = Field(
        default_factory=_default_model, description="diffusion preset used by edit/render"
    )
    llm: str = Field(
        default="auto",
        description="planner backend: auto (fast path, then the trained planner), fast (grammar "
        "only), planner (SmolLM2 + the adapter 'anypix train planner' made), smollm2 (untrained, "
        "few-shot prompt), openai (any OpenAI-compatible server), fake (tests), "
        "or one an installed plugin adds (anypix.llm_backends)",
    )
    llm_base_url: str = Field(
        default="http://127.0.0.1:8000/v1", description="OpenAI-compatible URL"
    )
    llm_model: str = Field(default="lmsys/vicuna-7b-v1.5", description="model name on that server")
    llm_api_key: str | None = Field(default=None, description="bearer token for that server")
    llm_timeout_s: float = Field(default=60.0, gt=0, description="per request")
    device: str = Field(default="auto", description="auto, cpu, cuda, cuda:1, mps")
    threads: int | None = Field(default=None, ge=1, description="torch/llama.cpp CPU threads")
    warm_idle_s: float = Field(
        default=300.0,
        ge=0,
        description="keep a warm worker (models loaded) for later 'anypix edit' commands this "
        "long after its last edit; 0: none, every edit starts from scratch",
    )
    allow_downloads: bool = Field(
        default=False,
        description="let Hub presets download weights; off by default so nothing hangs offline",
    )
    model_paths: dict[str, Path] = Field(
        default_factory=dict, description="preset name -> local directory that holds its weights"
    )

    @field_validator("llm")
    @classmethod
    def _known_llm(cls, name: str) -> str:
        from anypix.plugins import plugin_names

        known = [*BUILTIN_LLMS, *plugin_names("anypix.llm_backends")]
        if name not in known:
            raise ValueError(f"{name!r} is not an LLM backend; choose one of {', '.join(known)}")
        return name

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        return (init_settings, env_settings, toml)

    @property
    def config_file(self) -> Path:
        """The TOML file settings are read from (it may not exist)."""
        return config_file()

    @property
    def db_path(self) -> Path:
        return self.data_dir / "anypix.db"

    @property
    def asset_dir(self) -> Path:
        return self.data_dir / "assets"

    @property
    def cache_dir(self) -> Path:
        """What can be recomputed (inversions): safe to delete at any time."""
        return self.data_dir / "cache"


def load_settings(**overrides: object) -> Settings:
    """Read settings; CLI flags come in as ``overrides`` (``None`` values are ignored)."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(
            f"setting {where!r} is invalid: {err['msg']}",
            f"check ANYPIX_{where.upper()} or {config_file()}",
        ) from None
    except (OSError, ValueError) as exc:  # a TOML file that cannot be read or parsed
        raise ConfigError(f"cannot read {config_file()}: {exc}", "fix or remove the file") from None
