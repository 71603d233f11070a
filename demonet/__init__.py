"""A generated county food network (farms to stalls) with signed events and its ground truth,
and a city's year of official sampling over it (:mod:`.city`)."""

from __future__ import annotations

from .city import CityTruth, CityYear, GeneratedCity, generate_city
from .generator import (
    Balance,
    GeneratedNetwork,
    HoldRecord,
    NetworkSpec,
    Party,
    Site,
    Truth,
    derive_key,
    generate,
    sign_all,
)

__all__ = ["Balance", "CityTruth", "CityYear", "GeneratedCity", "GeneratedNetwork", "HoldRecord",
           "NetworkSpec", "Party", "Site", "Truth", "derive_key", "generate", "generate_city",
           "sign_all"]
