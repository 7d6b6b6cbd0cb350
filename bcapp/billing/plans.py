"""The plans an app sells through BigCommerce's Unified Billing, declared in its code.

```python
from bcapp import billing

billing.plan("free", level="Free", price="0", interval="MONTH")
billing.plan("pro", level="Pro", price="29.99", interval="MONTH", trial_days=14)
```

BigCommerce keeps no price list: the app sends the plan's price with every checkout, in USD
only, for one of five intervals (docs/billing.md). A plan is checked when it is declared: a
wrong interval, currency, price or trial is a ConfigurationError naming the plan, so every
process refuses to start. `level` is the plan's `productLevel`, the name BigCommerce shows the
merchant and returns in the subscription, by which bcapp knows which plan a store has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bcapp.errors import ConfigurationError

INTERVALS = ("ONCE", "MONTH", "QUARTER", "SEMIANNUAL", "ANNUAL")
CURRENCY = "USD"  # the only one Unified Billing takes
MAX_PRICE = Decimal("100000")
MAX_TRIAL_DAYS = 365
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_LEVEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,49}")

_declared: dict[str, Plan] = {}


@dataclass(frozen=True)
class Plan:
    """A plan the app sells: its name in code, BigCommerce's product level, price, interval."""

    name: str
    level: str
    price: Decimal
    interval: str
    trial_days: int = 0
    description: str = ""

    @property
    def is_free(self) -> bool:
        """A $0 plan (the only kind an unpublished app may create checkouts for)."""
        return self.price == 0

    @property
    def price_text(self) -> str:
        """The price as BigCommerce takes it: a decimal with two places ("29.99")."""
        return f"{self.price:.2f}"


def plan(
    name: str,
    *,
    level: str,
    price: str,
    interval: str,
    trial_days: int = 0,
    description: str = "",
) -> Plan:
    """Declare a plan (once per name); ConfigurationError naming what is wrong."""
    where = f"billing.plan({name!r})"
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigurationError(f"{where}: a plan name is lowercase letters, digits, - and _")
    if not isinstance(level, str) or not _LEVEL.fullmatch(level):
        raise ConfigurationError(f"{where}: level is 1-50 letters, digits, spaces, . _ -")
    if interval not in INTERVALS:
        raise ConfigurationError(f"{where}: interval must be one of {', '.join(INTERVALS)}")
    amount = _price(where, price)
    if type(trial_days) is not int or not 0 <= trial_days <= MAX_TRIAL_DAYS:
        raise ConfigurationError(f"{where}: trial_days is a whole number from 0 to 365")
    if trial_days and interval == "ONCE":
        raise ConfigurationError(f"{where}: a one-time purchase has no trial")
    found = Plan(name, level, amount, interval, trial_days, str(description)[:200])
    for other in _declared.values():
        if other.name != name and other.level == level:
            raise ConfigurationError(f"{where}: plan {other.name!r} has the level {level!r}")
    if name in _declared and _declared[name] != found:
        raise ConfigurationError(f"{where}: declared twice, differently")
    _declared[name] = found
    return found


def _price(where: str, price: str) -> Decimal:
    if not isinstance(price, str):
        raise ConfigurationError(f'{where}: give the price as text in USD, e.g. price="29.99"')
    text = price.strip().removeprefix("$")
    if text.upper().endswith(" USD"):
        text = text[:-4]
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise ConfigurationError(f"{where}: price {price!r} is no amount of USD") from exc
    if not amount.is_finite() or amount < 0 or amount > MAX_PRICE:
        raise ConfigurationError(f"{where}: price is from 0 to {MAX_PRICE} USD")
    if amount != amount.quantize(Decimal("0.01")):
        raise ConfigurationError(f"{where}: price has at most two decimal places (cents)")
    return amount.quantize(Decimal("0.01"))


def declared() -> tuple[Plan, ...]:
    """The declared plans, in declaration order."""
    return tuple(_declared.values())


def named(name: str) -> Plan:
    """The plan declared as `name`; KeyError naming the declared ones otherwise."""
    found = _declared.get(name)
    if found is None:
        raise KeyError(f"no plan {name!r} is declared (declared: {', '.join(_declared) or 'none'})")
    return found


def of_level(level: str) -> Plan | None:
    """The declared plan whose BigCommerce product level is `level`."""
    return next((found for found in _declared.values() if found.level == level), None)
