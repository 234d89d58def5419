"""The pages' template configuration: Jinja templates in `api/web/templates/`, autoescaped."""

from __future__ import annotations

from pathlib import Path

from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from api.i18n import install
from infra.rules import load_regions

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Litestar's Jinja engine over `TEMPLATES_DIR` (HTML autoescaped; `csrf_token()` and
    `url_for()` available in every template), with the i18n globals and filters
    (`api.i18n.install`: `t`, `format_date`, `region_label`, …, in the template's `lang`)."""

    def with_languages(engine: JinjaTemplateEngine) -> None:
        install(engine.engine, regions=load_regions())
        engine.engine.trim_blocks = True
        engine.engine.lstrip_blocks = True
        # The templates ship with the code: a process never needs to look at their files
        # again (with reloading on, every page stats each template it uses).
        engine.engine.auto_reload = False

    return TemplateConfig(
        directory=TEMPLATES_DIR, engine=JinjaTemplateEngine, engine_callback=with_languages
    )
