"""The GraphQL Admin API (`POST /stores/<hash>/graphql`) on the REST client's budget.

The request is parsed with graphql-core first: a malformed document never leaves the process
(ValueError), and the operation type decides the retries. A query is read-only and is sent
again like a GET (5xx, a lost connection, a 429); a mutation is sent once, whatever happens,
since a lost answer may still have changed the store. BigCommerce answers GraphQL errors with
HTTP 200 and an `errors` list: they raise GraphQLFailed naming the first message. The
complexity BigCommerce computed (`X-Bc-Graphql-Complexity`, refused over 10,000) is recorded
by the REST client (docs/protocol.md, "GraphQL").
"""

from __future__ import annotations

from typing import Any

from bcapp.bigcommerce.api import RETRY_ANY, RETRY_NEVER, StoreApi
from bcapp.errors import GraphQLFailed

PATH = "graphql"


def is_mutation(query: str) -> bool:
    """True when the document's operation is a mutation. ValueError (the calling code's bug,
    as a malformed REST path is) when it does not parse or holds other than one operation.

    graphql-core is imported here, on the first GraphQL call: it takes a tenth of a second to
    import, and most processes (every gunicorn worker, every CLI command) never parse GraphQL.
    """
    from graphql import GraphQLError, OperationType, parse
    from graphql.language import OperationDefinitionNode

    try:
        document = parse(query, no_location=True)
    except GraphQLError as exc:
        raise ValueError(f"the GraphQL document does not parse: {exc.message}") from exc
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1:
        raise ValueError("send exactly one GraphQL operation per call")
    return operations[0].operation is OperationType.MUTATION


def run_graphql(
    api: StoreApi, store_hash: str, token: str, query: str, variables: dict[str, Any] | None
) -> dict[str, Any]:
    """Send one operation; its `data`, or GraphQLFailed naming the first error."""
    retry = RETRY_NEVER if is_mutation(query) else RETRY_ANY
    body = {"query": query, "variables": variables or {}}
    answer = api.call("POST", store_hash, token, PATH, body=body, retry=retry)
    if not isinstance(answer, dict):
        raise GraphQLFailed("the answer is not a GraphQL response")
    errors = answer.get("errors")
    if isinstance(errors, list) and errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        raise GraphQLFailed(str(first.get("message", "unknown error")), errors)
    data = answer.get("data")
    return data if isinstance(data, dict) else {}
