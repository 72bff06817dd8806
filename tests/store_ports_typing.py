"""Checked by mypy (tests/contract/test_store_ports.py runs it): the SQL store is each store protocol.

Not imported by the tests themselves; an assignment below fails type checking the moment ``Store``
and a protocol disagree on a method's name, parameters or types.
"""

from __future__ import annotations

from bot.app.ports.store import (
    AdminTokenStore,
    AuditLog,
    BuildStore,
    DeliveryQueue,
    DeploymentStore,
    PrStateStore,
    ReleaseCache,
    StoreClock,
    WholeStore,
)
from bot.store import Store


def each_aggregate(
    store: Store,
) -> tuple[
    StoreClock,
    DeliveryQueue,
    PrStateStore,
    AdminTokenStore,
    AuditLog,
    DeploymentStore,
    ReleaseCache,
    BuildStore,
]:
    return (store, store, store, store, store, store, store, store)


def whole(store: Store) -> WholeStore:
    return store
