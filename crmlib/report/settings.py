"""The `report:` section of the client YAML: identity (logo, colours), the executive summary and
the single-file report, validated on load like the chapter sections."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import ConfigError

HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_URL_LIKE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:|//|\\\\)")  # scheme:, //host, \\share
LOGO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
              ".webp": "image/webp", ".svg": "image/svg+xml"}
MAX_LOGO_BYTES = 1_000_000
DEFAULT_PRIMARY = "#1f4e79"
DEFAULT_ACCENT = "#e07b39"
MAX_DISPLAY_NAME = 40  # characters of a display name (a table column stays readable)


class ReportSettings(BaseModel):
    """How the report looks and what the index page summarises."""

    model_config = ConfigDict(extra="forbid")

    logo: str | None = Field(
        None,
        description="a local image file (png, jpg, gif, webp, svg) relative to the YAML file; embedded, never a URL",
    )
    primary_color: str = Field(DEFAULT_PRIMARY, description="headings, links, header rule: hex such as #1f4e79")
    accent_color: str = Field(DEFAULT_ACCENT, description="executive-summary figures and highlights: hex")
    max_findings: int = Field(
        8, ge=3, le=12, description="findings shown in the executive summary (most important first)"
    )
    f2_benchmark: float = Field(
        0.30, gt=0, lt=1, description="F2 conversion (365 days) a shop of this kind should reach; retail 0.30-0.40"
    )
    single_file: bool = Field(True, description="also write report.html: every chapter in one offline file for e-mail")
    pdf: bool | None = Field(
        None,
        description="also write report.pdf (A4, printed from report.html by headless Chromium); "
        "unset: when Chromium is installed",
    )
    deck: bool = Field(True, description="also write report.pptx: an editable PowerPoint deck of the findings and key charts")
    embed_font: bool = Field(
        True, description="embed the Japanese glyphs the page uses (IPAexGothic subset), so pages read on any machine"
    )
    display_names: dict[Literal["channel", "source", "category", "region"], dict[str, str]] = Field(
        default_factory=dict,
        description="names shown for the data's codes, per attribute: {channel: {web: ウェブ, app: アプリ}}; "
        "codes not listed use the catalog's names (web/app/store ...) or are shown as they are",
    )

    @field_validator("display_names", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        """Codes as text (a YAML 1 is the code '1'); every name non-empty, at most 40 characters,
        and no two codes of an attribute under one name (their rows would read the same)."""
        if not isinstance(value, dict):
            return value
        out = {}
        for dimension, codes in value.items():
            if not isinstance(codes, dict):
                raise ValueError(f"display_names.{dimension}: give code: name pairs, e.g. {{web: ウェブ}}")
            names = {str(code): "" if name is None else str(name).strip() for code, name in codes.items()}
            for code, name in names.items():
                if not name or len(name) > MAX_DISPLAY_NAME:
                    raise ValueError(f"display_names.{dimension}.{code}: give a name of 1-{MAX_DISPLAY_NAME} characters")
            seen: dict[str, str] = {}
            for code, name in names.items():
                if name in seen:
                    raise ValueError(f"display_names.{dimension}: '{seen[name]}' and '{code}' are both named '{name}'; "
                                     "give each code its own name (or merge the codes in the data)")
                seen[name] = code
            out[dimension] = names
        return out

    @field_validator("primary_color", "accent_color")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not HEX_COLOUR.match(value):
            raise ValueError(f"'{value}' is not a hex colour; write it as #RRGGBB, e.g. \"#1f4e79\" (quoted in YAML)")
        return value.lower()

    @field_validator("logo")
    @classmethod
    def _local_logo(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if _URL_LIKE.match(value) and not re.match(r"^[A-Za-z]:[\\/]", value):  # C:\ is a path
            raise ValueError(
                f"'{value}' looks like a URL; the logo must be a local image file (reports never load from the network)"
            )
        if Path(value).suffix.lower() not in LOGO_TYPES:
            raise ValueError(f"'{value}': use a {', '.join(sorted(LOGO_TYPES))} file")
        return value


def load_report_settings(section: dict | ReportSettings | None) -> ReportSettings:
    """The validated `report:` section (defaults when absent)."""
    if isinstance(section, ReportSettings):
        return section
    return ReportSettings.model_validate(section or {})


def logo_data_uri(settings: ReportSettings, base_dir: Path | None) -> str | None:
    """The logo as a data: URI, read from a file relative to base_dir (the YAML file's folder)."""
    if not settings.logo:
        return None
    path = Path(settings.logo)
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    if not path.is_file():
        raise ConfigError(
            f"report.logo: no such file {path}.", hint="give a local image file relative to the client YAML"
        )
    data = path.read_bytes()  # a symbolic link is followed: what it points at is checked below
    if len(data) > MAX_LOGO_BYTES:
        raise ConfigError(
            f"report.logo: {path} is {len(data):,} bytes; the limit is {MAX_LOGO_BYTES:,}.",
            hint="use a smaller image (a logo 400 px wide is plenty)",
        )
    mime = image_type(data)
    if mime is None:
        shown = f"{path} (a link to {path.resolve()})" if path.is_symlink() else f"{path}"
        raise ConfigError(
            f"report.logo: {shown} is not a PNG, JPEG, GIF, WebP or SVG image (by its content).",
            hint="give the logo's image file itself; it is embedded in every page",
        )
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


# the first bytes of each image format a logo may have
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
          (b"GIF89a", "image/gif"))
_SVG_START = re.compile(r"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!DOCTYPE svg[^>]*>\s*)?(?:<!--.*?-->\s*)*<svg[\s>]",
                        re.IGNORECASE | re.DOTALL)


def image_type(data: bytes) -> str | None:
    """The MIME type of an image from its content (PNG, JPEG, GIF, WebP or SVG), None otherwise:
    the file name alone would let any file (a key, a client list) be embedded in the pages."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    head = data[:4096].decode("utf-8", errors="ignore").removeprefix("\ufeff")
    return "image/svg+xml" if _SVG_START.match(head) else None
