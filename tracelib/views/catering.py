"""The canteens a lot reached, and the schools among them (学校食堂).

A drill and a recall name them apart from the stalls: a school's canteen feeds children,
and a regulator visits it first. A canteen is a location of type ``canteen``; a school's
canteen says ``school: true`` in its registration (docs/contract.md "Roles and location
types")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..directory import Location

__all__ = ["CanteenReached", "canteens_reached"]


@dataclass(frozen=True, slots=True)
class CanteenReached:
    location: str
    name: str
    school: bool

    def to_dict(self) -> dict[str, Any]:
        return {"location": self.location, "name": self.name, "school": self.school}


def canteens_reached(places: Mapping[str, Location],
                     reached: Iterable[str]) -> tuple[CanteenReached, ...]:
    """The canteens among ``reached`` (location ids looked up in ``places``), by id."""
    out = []
    for loc in sorted(set(reached)):
        place = places.get(loc)
        if place is not None and place.type == "canteen":
            out.append(CanteenReached(place.id, place.name, place.details.get("school") is True))
    return tuple(out)
