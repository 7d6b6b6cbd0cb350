"""The GraphQL Account API subset the simulator serves: Unified Billing's checkouts and
subscriptions, with BigCommerce's type, field and enum names (its docs' example queries and the
introspection its Node sample app ships, `bigcommerce/sample-app-nodejs:graphql-env.d.ts`).

`BigDecimal` amounts are written as decimal strings ("29.99") and read from a string or a
number; `DateTime` is ISO 8601 in UTC ("2026-01-31T12:00:00Z").
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from graphql import GraphQLError, GraphQLScalarType, build_schema
from graphql.language import FloatValueNode, IntValueNode, StringValueNode, ValueNode

SDL = """
schema { query: Query mutation: Mutation }
scalar BigDecimal
scalar DateTime
type Query { account: Account! }
type Mutation { checkout: CheckoutMutations! subscription: SubscriptionMutations! }
type Account {
  id: ID!
  checkout(id: ID!): Checkout
  subscriptions(
    first: Int, after: String, filters: SubscriptionFiltersInput
  ): SubscriptionConnection!
}
type PageInfo {
  hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String
}
type Money { value: BigDecimal! currencyCode: String! }
enum CurrencyCode { USD EUR GBP AUD CAD }
input MoneyInput { value: BigDecimal! currencyCode: CurrencyCode! }
enum CheckoutStatus { PENDING PROCESSING COMPLETE }
enum CheckoutItemStatus { PENDING PROCESSING COMPLETE }
enum CheckoutItemPricingInterval { ONCE MONTH QUARTER SEMIANNUAL ANNUAL }
enum CheckoutItemProductType { APPLICATION }
enum CheckoutItemScopeType { STORE }
type Checkout {
  id: ID! accountId: ID! status: CheckoutStatus checkoutUrl: String!
  items(first: Int, after: String): CheckoutItemConnection!
}
type CheckoutItemConnection { pageInfo: PageInfo! edges: [CheckoutItemEdge] }
type CheckoutItemEdge { cursor: String! node: CheckoutItem! }
type CheckoutItem {
  subscriptionId: ID status: CheckoutItemStatus product: CheckoutItemProduct!
  scope: CheckoutItemScope! pricingPlan: CheckoutItemPricingPlan! redirectUrl: String
  description: String
}
type CheckoutItemProduct { id: ID type: CheckoutItemProductType productLevel: String }
type CheckoutItemScope { id: ID type: CheckoutItemScopeType }
type CheckoutItemPricingPlan { interval: CheckoutItemPricingInterval price: Money trialDays: Int }
input CheckoutItemProductInput { id: ID type: CheckoutItemProductType productLevel: String }
input CheckoutItemScopeInput { id: ID type: CheckoutItemScopeType }
input PricingPlanInput { interval: CheckoutItemPricingInterval! price: MoneyInput! trialDays: Int }
input CheckoutItemInput {
  product: CheckoutItemProductInput scope: CheckoutItemScopeInput pricingPlan: PricingPlanInput!
  redirectUrl: String! description: String! subscriptionId: ID
}
input CreateCheckoutInput { accountId: ID! items: [CheckoutItemInput!]! }
type CreateCheckoutResult { checkout: Checkout }
type CheckoutMutations { createCheckout(input: CreateCheckoutInput!): CreateCheckoutResult }
enum SubscriptionStatus { ACTIVE SUSPENDED CANCELLED }
enum SubscriptionBillingInterval { ONCE MONTH QUARTER SEMIANNUAL ANNUAL NONE }
enum SubscriptionProductType { APPLICATION NONE }
enum SubscriptionScopeType { STORE }
type Subscription {
  id: ID! accountId: ID! activationDate: DateTime! billingInterval: SubscriptionBillingInterval!
  createdAt: DateTime! currentPeriodEnd: DateTime updatedAt: DateTime! pricePerInterval: Money
  product: SubscriptionProduct! scope: SubscriptionScope! status: SubscriptionStatus
}
type SubscriptionProduct { id: ID! type: SubscriptionProductType productLevel: String! }
type SubscriptionScope { id: ID! type: SubscriptionScopeType }
type SubscriptionConnection { pageInfo: PageInfo! edges: [SubscriptionEdge] }
type SubscriptionEdge { cursor: String! node: Subscription! }
input SubscriptionFiltersInput {
  ids: [ID!] productId: ID productType: SubscriptionProductType scopeId: ID
  scopeType: SubscriptionScopeType status: SubscriptionStatus updatedAfter: DateTime
}
input CancelSubscriptionInput { id: ID! }
type CancelSubscriptionResult { subscriptionId: ID cancelledAt: DateTime }
type SubscriptionMutations {
  cancelSubscription(input: CancelSubscriptionInput!): CancelSubscriptionResult
}
"""
SCHEMA = build_schema(SDL)


def _decimal_out(value: Any) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.01")))


def _decimal_in(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise GraphQLError("BigDecimal takes a decimal number, such as 29.99 or \"29.99\".")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise GraphQLError(f"{value!r} is not a decimal number.") from None


def _decimal_literal(node: ValueNode, variables: Any = None) -> Decimal:
    if isinstance(node, StringValueNode | IntValueNode | FloatValueNode):
        return _decimal_in(node.value)
    raise GraphQLError("BigDecimal takes a decimal number, such as 29.99 or \"29.99\".")


def iso(moment: float) -> str:
    """An epoch time as the Account API writes a DateTime."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _datetime_out(value: Any) -> str:
    return iso(float(value))


def _datetime_in(value: Any) -> float:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise GraphQLError(f"{value!r} is not an ISO 8601 date and time.") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _datetime_literal(node: ValueNode, variables: Any = None) -> float:
    if isinstance(node, StringValueNode):
        return _datetime_in(node.value)
    raise GraphQLError("DateTime takes an ISO 8601 string, such as \"2026-01-31T00:00:00Z\".")


def _implement(name: str, serialize: Any, parse_value: Any, parse_literal: Any) -> None:
    """Give the schema's scalar `name` its coercion, copied from a scalar built with them (the
    attributes that hold it differ between graphql-core 3.2 and 3.3)."""
    built = SCHEMA.type_map[name]
    assert isinstance(built, GraphQLScalarType)
    implemented = GraphQLScalarType(
        name, serialize=serialize, parse_value=parse_value, parse_literal=parse_literal
    )
    for attribute, value in vars(implemented).items():
        if attribute.startswith(("serialize", "parse_", "coerce_")):
            setattr(built, attribute, value)


_implement("BigDecimal", _decimal_out, _decimal_in, _decimal_literal)
_implement("DateTime", _datetime_out, _datetime_in, _datetime_literal)
