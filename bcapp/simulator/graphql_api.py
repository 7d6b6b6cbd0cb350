"""The simulated GraphQL Admin API: the App Extensions subset, parsed and validated by
graphql-core against a schema of that subset (`POST /stores/<hash>/graphql`).

As on BigCommerce (`integrations/apps/app-extensions` docs): an extension is visible only to
the token that created it; at most two per app and model; `url` and labels hold at most 255
characters; only `url` and `label` change on update; errors come back in `errors` with HTTP 200.
`X-Bc-Graphql-Complexity` carries the simulator's own measure: the number of fields asked for.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from graphql import GraphQLError, build_schema, graphql_sync, parse
from graphql.language import FieldNode, Visitor, visit

from bcapp.simulator.api import authorised, refusal, run_test_hook, with_limits
from bcapp.simulator.login import state
from bcapp.simulator.state import SimStore

bp = Blueprint("sim_graphql", __name__)
bp.before_request(run_test_hook)
PER_MODEL = 2
MAX_CHARS = 255
# A test knob: queries made with these access tokens are answered `{"data": {"store": null}}`
# (an answer the GraphQL schema allows and an app's sync must survive, whatever its cause).
# Keyed by token (random per install), so one test's entry never touches another's world.
STORE_IS_NULL_FOR: set[str] = set()

SCHEMA = build_schema('''
type Query { store: Store }
type Store { appExtensions: AppExtensionConnection! }
type AppExtensionConnection { edges: [AppExtensionEdge!]! }
type AppExtensionEdge { node: AppExtension! }
enum AppExtensionContext { PANEL LINK }
enum AppExtensionModel { PRODUCTS PRODUCT_DESCRIPTION ORDERS CUSTOMERS }
type AppExtensionLocaleLabel { value: String! localeCode: String! }
type AppExtensionLabel { defaultValue: String! locales: [AppExtensionLocaleLabel!]! }
type AppExtension {
  id: ID! context: AppExtensionContext! model: AppExtensionModel! url: String!
  label: AppExtensionLabel!
}
input AppExtensionLocaleLabelInput { value: String! localeCode: String! }
input AppExtensionLabelInput { defaultValue: String! locales: [AppExtensionLocaleLabelInput!] }
input CreateAppExtensionInput {
  context: AppExtensionContext! model: AppExtensionModel! url: String!
  label: AppExtensionLabelInput!
}
input UpdateAppExtensionDataInput { url: String label: AppExtensionLabelInput }
input UpdateAppExtensionInput { id: ID! data: UpdateAppExtensionDataInput! }
input DeleteAppExtensionInput { id: ID! }
type CreateAppExtensionResult { appExtension: AppExtension }
type UpdateAppExtensionResult { appExtension: AppExtension }
type DeleteAppExtensionResult { deletedAppExtensionId: ID }
type AppExtensionMutations {
  createAppExtension(input: CreateAppExtensionInput!): CreateAppExtensionResult
  updateAppExtension(input: UpdateAppExtensionInput!): UpdateAppExtensionResult
  deleteAppExtension(input: DeleteAppExtensionInput!): DeleteAppExtensionResult
}
type Mutation { appExtension: AppExtensionMutations! }
''')


@bp.post("/stores/<store_hash>/graphql")
def graphql(store_hash: str) -> ResponseReturnValue:
    """Run one GraphQL document for the calling token."""
    store = authorised(store_hash)
    if not isinstance(store, SimStore):
        return store
    body = request.get_json(silent=True)
    query = body.get("query") if isinstance(body, dict) else None
    variables = body.get("variables") if isinstance(body, dict) else None
    if not isinstance(query, str) or not isinstance(variables, dict | None):
        return with_limits(refusal(400, "Send a JSON object with a query string"), store)
    token = request.headers.get("X-Auth-Token", "")
    mine = _Extensions(store, token)
    found = None if token in STORE_IS_NULL_FOR else {"appExtensions": mine.connection}
    root = {"store": found, "appExtension": mine}
    result = graphql_sync(SCHEMA, query, root_value=root, variable_values=variables)
    answer: dict[str, Any] = {"data": result.data}
    if result.errors:
        answer["errors"] = [error.formatted for error in result.errors]
    response = jsonify(answer)
    response.headers["X-Bc-Graphql-Complexity"] = str(_complexity(query))
    return with_limits(response, store)


class _Extensions:
    """The calling token's App Extensions of one store, and the mutations on them."""

    def __init__(self, store: SimStore, token: str) -> None:
        self._store = store
        self._token = token

    def connection(self, info: object) -> dict[str, Any]:
        """`store { appExtensions { edges { node } } }`."""
        return {"edges": [{"node": _public(ext)} for ext in self._own()]}

    def createAppExtension(self, info: object, input: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - the schema's names
        """A new extension, within the two-per-model limit."""
        _check_lengths(input.get("url", ""), input.get("label", {}))
        sim = state()
        with sim.lock:
            if sum(ext["model"] == input["model"] for ext in self._own()) >= PER_MODEL:
                raise GraphQLError(
                    f"An app can register at most {PER_MODEL} App Extensions per model "
                    f"({input['model']})."
                )
            sim.extension_counter += 1
            extension = {
                "id": f"bc/store/appExtension/{sim.extension_counter}",
                "token": self._token,
                "context": input["context"],
                "model": input["model"],
                "url": input["url"],
                "label": _label(input["label"]),
            }
            self._store.app_extensions.append(extension)
        label = extension["label"]["defaultValue"]
        sim.record(f"App Extension {input['model']} '{label}' registered on {self._store.hash}")
        return {"appExtension": _public(extension)}

    def updateAppExtension(self, info: object, input: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        """Change the url and/or the label (the rest is immutable)."""
        extension = self._find(input["id"])
        data = input["data"]
        _check_lengths(data.get("url") or "", data.get("label") or {})
        with state().lock:
            if data.get("url") is not None:
                extension["url"] = data["url"]
            if data.get("label") is not None:
                extension["label"] = _label(data["label"])
        return {"appExtension": _public(extension)}

    def deleteAppExtension(self, info: object, input: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        """Delete for good."""
        extension = self._find(input["id"])
        with state().lock:
            self._store.app_extensions.remove(extension)
        return {"deletedAppExtensionId": extension["id"]}

    def _own(self) -> list[dict[str, Any]]:
        return [ext for ext in self._store.app_extensions if ext["token"] == self._token]

    def _find(self, extension_id: str) -> dict[str, Any]:
        found = next((ext for ext in self._own() if ext["id"] == extension_id), None)
        if found is None:
            raise GraphQLError(f"App Extension {extension_id} was not found.")
        return found


def _label(given: dict[str, Any]) -> dict[str, Any]:
    locales = [
        {"value": entry["value"], "localeCode": entry["localeCode"]}
        for entry in given.get("locales") or []
    ]
    return {"defaultValue": given["defaultValue"], "locales": locales}


def _check_lengths(url: str, label: dict[str, Any]) -> None:
    locales = label.get("locales") or []
    texts = [url, label.get("defaultValue", ""), *(entry.get("value", "") for entry in locales)]
    if any(len(text) > MAX_CHARS for text in texts):
        raise GraphQLError(f"url and label values hold at most {MAX_CHARS} characters.")


def _public(extension: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in extension.items() if key != "token"}


def _complexity(query: str) -> int:
    """The number of fields the document asks for (0 when it does not parse)."""
    try:
        document = parse(query)
    except GraphQLError:
        return 0
    counter = _FieldCounter()
    visit(document, counter)
    return counter.fields


class _FieldCounter(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.fields = 0

    def enter_field(self, node: FieldNode, *args: object) -> None:
        self.fields += 1
