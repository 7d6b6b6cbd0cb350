"""The Account API operations bcapp sends (field names as docs/billing.md gives them)."""

from __future__ import annotations

SUBSCRIPTION_FIELDS = """
id accountId activationDate billingInterval currentPeriodEnd status createdAt updatedAt
pricePerInterval { value currencyCode } product { id type productLevel } scope { id type }
"""

CREATE_CHECKOUT = """
mutation CreateCheckout($checkout: CreateCheckoutInput!) {
  checkout { createCheckout(input: $checkout) { checkout { id status checkoutUrl } } }
}
"""

# The return from a checkout, confirmed with one request: the checkout and the store's newest
# subscription of this app, side by side.
CONFIRM = (
    """
query Confirm($checkout: ID!, $filters: SubscriptionFiltersInput) {
  account {
    checkout(id: $checkout) {
      id status items(first: 1) { edges { node { status subscriptionId } } }
    }
    subscriptions(first: 1, filters: $filters) { edges { node { """
    + SUBSCRIPTION_FIELDS
    + """ } } }
  }
}
"""
)

SUBSCRIPTIONS = (
    """
query Subscriptions($after: String, $filters: SubscriptionFiltersInput) {
  account {
    subscriptions(first: 50, after: $after, filters: $filters) {
      pageInfo { hasNextPage endCursor }
      edges { node { """
    + SUBSCRIPTION_FIELDS
    + """ } }
    }
  }
}
"""
)

CANCEL = """
mutation Cancel($subscription: CancelSubscriptionInput!) {
  subscription { cancelSubscription(input: $subscription) { subscriptionId cancelledAt } }
}
"""

# `bcapp billing check`: one cheap read proving the token, its account and its read scope.
PROBE = """
query Probe($filters: SubscriptionFiltersInput) {
  account { subscriptions(first: 1, filters: $filters) { edges { node { id } } } }
}
"""
