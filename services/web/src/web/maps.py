"""Maps drawn as SVG on a plain background: Hong Kong's extent, a few named places, H3 area hexagons.

Nothing comes from a tile server: positions are a plain equirectangular projection of the extent
(scaled by the cosine of its middle latitude, so shapes keep their proportions), and each area is
its H3 cell's boundary from the ``h3`` package.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import h3

# West, south, east, north: Hong Kong with Lantau and the New Territories.
BOUNDS = (113.82, 22.15, 114.44, 22.56)
WIDTH = 800
PLACES: list[tuple[float, float, dict[str, str]]] = [
    (22.2819, 114.1582, {"en": "Central", "zh-Hant": "中環", "zh-Hans": "中环"}),
    (22.3193, 114.1694, {"en": "Mong Kok", "zh-Hant": "旺角", "zh-Hans": "旺角"}),
    (22.3817, 114.1880, {"en": "Sha Tin", "zh-Hant": "沙田", "zh-Hans": "沙田"}),
    (22.3964, 114.1095, {"en": "Tsuen Wan", "zh-Hant": "荃灣", "zh-Hans": "荃湾"}),
    (22.2890, 113.9410, {"en": "Tung Chung", "zh-Hant": "東涌", "zh-Hans": "东涌"}),
    (22.3120, 114.2250, {"en": "Kwun Tong", "zh-Hant": "觀塘", "zh-Hans": "观塘"}),
    (22.3910, 113.9770, {"en": "Tuen Mun", "zh-Hant": "屯門", "zh-Hans": "屯门"}),
    (22.3810, 114.2700, {"en": "Sai Kung", "zh-Hant": "西貢", "zh-Hans": "西贡"}),
    (22.4450, 114.0220, {"en": "Yuen Long", "zh-Hant": "元朗", "zh-Hans": "元朗"}),
    (22.4960, 114.1380, {"en": "Sheung Shui", "zh-Hant": "上水", "zh-Hans": "上水"}),
]


@dataclass(frozen=True)
class Hexagon:
    """An area drawn on the map: its outline, a level class for its colour, its link and label."""

    area_id: str
    points: str
    level: str
    opacity: float
    href: str
    label: str


@dataclass(frozen=True)
class Frame:
    """The part of the world a map shows, drawn ``width`` wide and as tall as its proportions ask."""

    west: float = BOUNDS[0]
    south: float = BOUNDS[1]
    east: float = BOUNDS[2]
    north: float = BOUNDS[3]
    width: int = WIDTH

    @property
    def height(self) -> int:
        """Return the drawing's height (the extent scaled by the cosine of its middle latitude)."""
        middle = math.cos(math.radians((self.south + self.north) / 2))
        return round(self.width * (self.north - self.south) / ((self.east - self.west) * middle))

    def inside(self, lat: float, lng: float) -> bool:
        """Tell whether a point falls on the map."""
        return self.south <= lat <= self.north and self.west <= lng <= self.east

    def project(self, lat: float, lng: float) -> tuple[float, float]:
        """Return the map's x, y for a point."""
        x = (lng - self.west) / (self.east - self.west) * self.width
        y = (self.north - lat) / (self.north - self.south) * self.height
        return round(x, 1), round(y, 1)

    def outline(self, area_id: str) -> str:
        """Return an H3 cell's boundary as SVG polygon points."""
        corners = (self.project(lat, lng) for lat, lng in h3.cell_to_boundary(area_id))
        return " ".join(f"{x},{y}" for x, y in corners)

    def grid_lines(self) -> list[tuple[float, float, float, float]]:
        """Return the graticule's lines (x1, y1, x2, y2), about ten across."""
        step = _nice_step((self.east - self.west) / 10)
        lines: list[tuple[float, float, float, float]] = []
        lng = math.ceil(self.west / step) * step
        while lng < self.east:
            x, _ = self.project(self.north, lng)
            lines.append((x, 0, x, self.height))
            lng += step
        lat = math.ceil(self.south / step) * step
        while lat < self.north:
            _, y = self.project(lat, self.west)
            lines.append((0, y, self.width, y))
            lat += step
        return lines

    def view(self, language: str) -> dict[str, object]:
        """Everything the map template needs besides the hexagons and the pin."""
        return {
            "width": self.width,
            "height": self.height,
            "bounds": f"{self.west},{self.south},{self.east},{self.north}",
            "grid": self.grid_lines(),
            "places": [
                (*self.project(lat, lng), names.get(language, names["en"]))
                for lat, lng, names in PLACES
                if self.inside(lat, lng)
            ],
        }


HONG_KONG = Frame()


def frame_around(points: list[tuple[float, float]], min_span: float = 0.05, margin: float = 0.25) -> Frame:
    """Return a frame holding every point with a margin, at least ``min_span`` degrees across."""
    if not points:
        return HONG_KONG
    lats = [lat for lat, _ in points]
    lngs = [lng for _, lng in points]
    span_lat = max(max(lats) - min(lats), min_span) * (1 + 2 * margin)
    span_lng = max(max(lngs) - min(lngs), min_span) * (1 + 2 * margin)
    mid_lat, mid_lng = (max(lats) + min(lats)) / 2, (max(lngs) + min(lngs)) / 2
    # Landscape, as a laptop screen is: at least 4 wide for 3 high on the ground.
    ground = math.cos(math.radians(mid_lat))
    span_lng = max(span_lng, span_lat * 4 / 3 / ground)
    span_lat = max(span_lat, span_lng * ground / 2)
    return Frame(
        mid_lng - span_lng / 2, mid_lat - span_lat / 2, mid_lng + span_lng / 2, mid_lat + span_lat / 2
    )


def _nice_step(raw: float) -> float:
    """Round a grid step to 1, 2 or 5 times a power of ten."""
    power: float = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def inside(lat: float, lng: float) -> bool:
    """Tell whether a point falls on the Hong Kong map."""
    return HONG_KONG.inside(lat, lng)


def project(lat: float, lng: float) -> tuple[float, float]:
    """Return the Hong Kong map's x, y for a point."""
    return HONG_KONG.project(lat, lng)


def is_area(area_id: str) -> bool:
    """Tell whether a string is a valid H3 cell id."""
    try:
        return bool(h3.is_valid_cell(area_id))
    except (TypeError, ValueError):
        return False


def view(language: str) -> dict[str, object]:
    """The Hong Kong map's view (for pickers)."""
    return HONG_KONG.view(language)
