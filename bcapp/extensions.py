"""App Extensions declared by the app: menu items of the control panel that open the app on a
record (BigCommerce's `integrations/apps/app-extensions` docs).

In a module of the app (`BCAPP_APP`'s, or one named in `BCAPP_RECEIVERS`)::

    from bcapp import extensions

    extensions.add(model="ORDERS", context="PANEL", url="/orders/${id}",
                   label="Print labels", locales={"fr-FR": "Imprimer"})

Declaring any adds `store_app_extensions_manage` to the required scopes. Each store gets
exactly the declared set, through the GraphQL Admin API, after each install and on every
`bcapp reconcile` (bcapp/service/app_extensions.py). A declaration BigCommerce would refuse
stops the process at import, naming it: an unknown model or context, more than two per model,
a url or label over 255 characters, or a url that is not a path of the app.
"""

from __future__ import annotations

from dataclasses import dataclass

from bcapp.errors import ConfigurationError

SCOPE = "store_app_extensions_manage"
MODELS = ("PRODUCTS", "PRODUCT_DESCRIPTION", "ORDERS", "CUSTOMERS")
CONTEXTS = ("PANEL", "LINK")
MAX_PER_MODEL = 2
MAX_CHARS = 255

__all__ = ["Extension", "add", "declared"]


@dataclass(frozen=True)
class Extension:
    """One declared App Extension."""

    model: str
    context: str
    url: str  # a path of the app; `${id}` is the record's id
    label: str
    locales: tuple[tuple[str, str], ...] = ()  # (locale code, label), e.g. ("fr-FR", "…")

    def as_input(self) -> dict[str, object]:
        """The GraphQL `CreateAppExtensionInput` of this declaration."""
        return {
            "context": self.context,
            "model": self.model,
            "url": self.url,
            "label": self.label_input(),
        }

    def label_input(self) -> dict[str, object]:
        """The GraphQL label object (`defaultValue` and `locales`)."""
        return {
            "defaultValue": self.label,
            "locales": [{"localeCode": code, "value": value} for code, value in self.locales],
        }


_declared: list[Extension] = []


def add(
    model: str,
    context: str,
    url: str,
    label: str,
    locales: dict[str, str] | None = None,
) -> Extension:
    """Declare an App Extension (ConfigurationError naming it when BigCommerce would refuse)."""
    extension = Extension(model, context, url, label, tuple(sorted((locales or {}).items())))
    problem = _problem(extension)
    if problem:
        raise ConfigurationError(f"extensions.add(model={model!r}, url={url!r}): {problem}")
    if extension not in _declared:
        _declared.append(extension)
    return extension


def declared() -> tuple[Extension, ...]:
    """Every declared extension, in declaration order."""
    return tuple(_declared)


def _problem(extension: Extension) -> str | None:
    if extension.model not in MODELS:
        return f"the model is one of {', '.join(MODELS)}"
    if extension.context not in CONTEXTS:
        return f"the context is one of {', '.join(CONTEXTS)}"
    url = extension.url
    if not url.startswith("/") or url.startswith("//") or not url.isprintable() or " " in url:
        return "the url is a path of the app, such as /orders/${id}"
    texts = [url, extension.label, *(value for _, value in extension.locales)]
    if any(len(text) > MAX_CHARS for text in texts):
        return f"urls and labels hold at most {MAX_CHARS} characters"
    if not extension.label.strip():
        return "the label is the menu item's text and cannot be empty"
    same_model = [e for e in _declared if e.model == extension.model and e != extension]
    if len(same_model) >= MAX_PER_MODEL:
        return f"BigCommerce allows at most {MAX_PER_MODEL} extensions per model"
    return None
