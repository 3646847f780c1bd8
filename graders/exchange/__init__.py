"""sadari.graders.exchange: nbgrader's exchange over HTTP to the sadari service.

Plug-ins for nbgrader's `ExchangeFactory` (see nbgrader_config.py in this folder): trainees list,
fetch, submit and fetch feedback; instructors release, collect and release feedback. The service
decides who the caller is (from the hub token) and stamps every submission's time.
"""

from .base import SadariExchange
from .client import ServiceClient
from .instructor import (
    SadariExchangeCollect,
    SadariExchangeReleaseAssignment,
    SadariExchangeReleaseFeedback,
)
from .trainee import (
    SadariExchangeFetchAssignment,
    SadariExchangeFetchFeedback,
    SadariExchangeList,
    SadariExchangeSubmit,
)

__all__ = [
    "SadariExchange",
    "SadariExchangeCollect",
    "SadariExchangeFetchAssignment",
    "SadariExchangeFetchFeedback",
    "SadariExchangeList",
    "SadariExchangeReleaseAssignment",
    "SadariExchangeReleaseFeedback",
    "SadariExchangeSubmit",
    "ServiceClient",
]
