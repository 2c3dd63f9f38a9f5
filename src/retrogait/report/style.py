"""One place for the look of every figure: condition colours, source markers, resolution.

Every figure module (:mod:`~retrogait.report.figures`,
:mod:`~retrogait.report.spm_figures`, :mod:`~retrogait.report.forest`) takes
its colours from here, so a condition has the same colour in every figure of
a report:

* forward walking is always blue and backward walking always orange (the
  first two colours of seaborn's colour-blind palette); a dataset with
  several forward (or backward) conditions, e.g. one per belt speed, draws
  them in shades of that hue, darker for the faster speed;
* any other condition or level (``turn``, ``straight``, ``1.0``...) takes
  the next free colour-blind palette colour in a fixed order of its name, so
  the same set of names always gets the same colours.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import seaborn as sns
from matplotlib.colors import to_hex, to_rgb

__all__ = ["DPI", "THRESHOLD_COLOUR", "FORWARD", "BACKWARD", "MEAN_CI_COLOUR", "MEAN_CI_NAME", "SOURCE_STYLE", "POOLED_COLOUR",
           "direction_of", "condition_colours"]

#: Resolution of every PNG figure (legible at the report's 1150 px width and when printed).
DPI = 170

_PALETTE = [to_hex(c) for c in sns.color_palette("colorblind", 10)]
#: Forward walking: blue; backward walking: orange (colour-blind palette).
FORWARD, BACKWARD = _PALETTE[0], _PALETTE[1]
#: Others: the rest of the palette (green, vermillion, pink, brown, ...), never blue or orange.
_OTHERS = _PALETTE[2:]

#: Critical threshold ±t* of SPM{t} panels (dashed): dark red, never a condition's colour.
THRESHOLD_COLOUR = "#8b0000"

#: Group means with their 95 % CI in the paired-measures figure (the captions name it).
MEAN_CI_COLOUR, MEAN_CI_NAME = "#000000", "black"

#: Forest plot: data source -> (marker, colour, legend label); the caption names the markers.
#: Not blue or orange: those mean forward and backward walking in every other figure.
SOURCE_STYLE = {
    "literature": ("o", _PALETTE[2], "published study (summary data)"),
    "dataset": ("s", _PALETTE[3], "subject-level dataset (this pipeline)"),
}
#: Forest plot: colour of the pooled diamonds by activity.
POOLED_COLOUR = {"walking": "#222222", "running": "#888888"}

_DIRECTION_RE = {"FW": re.compile(r"(^|[^a-z])(fw|forward|fwd)([^a-z]|$)", re.I),
                 "BW": re.compile(r"(^|[^a-z])(bw|backward|backwards|retro|bwd)([^a-z]|$)", re.I)}
_NUMBER_RE = re.compile(r"[-+]?\d+(?:[.,-]\d+)?")


def direction_of(label: object) -> str | None:
    """``"FW"``, ``"BW"`` or None: the walking direction a condition or level name states.

    A name states a direction when it is (or contains as a separate token)
    ``FW``/``forward`` or ``BW``/``backward`` (any case): ``"BW_0.6"``,
    ``"walk_backward_1"``, ``"FW"``. A name with both, or neither, states none.
    """
    text = str(label)
    hits = [d for d, rx in _DIRECTION_RE.items() if rx.search(text)]
    return hits[0] if len(hits) == 1 else None


def _speed_key(label: str) -> tuple[float, str]:
    """Sort key: the first number in the name (e.g. a belt speed), then the name."""
    m = _NUMBER_RE.search(label.replace("-", "."))
    try:
        return (float(m.group(0).replace(",", ".")) if m else float("inf"), label)
    except ValueError:
        return (float("inf"), label)


def _shades(base: str, k: int) -> list[str]:
    """``k`` shades of ``base``, from dark (first) to light (last); ``base`` itself when k == 1."""
    if k == 1:
        return [base]
    r, g, b = to_rgb(base)
    out = []
    for i in range(k):
        f = -0.45 + 0.9 * i / (k - 1)  # -0.45 (towards black) .. +0.45 (towards white)
        if f < 0:
            rgb = (r * (1 + f), g * (1 + f), b * (1 + f))
        else:
            rgb = (r + (1 - r) * f, g + (1 - g) * f, b + (1 - b) * f)
        out.append(to_hex(rgb))
    return out


def condition_colours(labels: Iterable[object]) -> dict[str, str]:
    """Colour (hex) of each condition or contrast level name, the same in every figure.

    Parameters
    ----------
    labels : iterable
        Every condition (and level) name that can appear together in the
        figures of one dataset; pass the whole set, not one figure's subset,
        when names without a direction are mixed (their colours follow their
        sorted order within this set). Duplicates are ignored.

    Returns
    -------
    dict
        ``{str(name): "#rrggbb"}``. Forward names are blue, backward names
        orange; several names of one direction get shades of its hue, darkest
        for the highest number in the name (the fastest speed). Other names
        get the remaining colour-blind palette colours in sorted order
        (cycling after 8).
    """
    names = sorted({str(x) for x in labels})
    out: dict[str, str] = {}
    for direction, base in (("FW", FORWARD), ("BW", BACKWARD)):
        group = [n for n in names if direction_of(n) == direction]
        # a bare "FW"/"BW" level takes the base hue; named conditions get shades, fastest darkest
        bare = [n for n in group if n.upper() in (direction, "FORWARD" if direction == "FW" else "BACKWARD")]
        rest = sorted((n for n in group if n not in bare), key=_speed_key, reverse=True)
        for n in bare:
            out[n] = base
        for n, colour in zip(rest, _shades(base, len(rest))):
            out[n] = colour
    others = [n for n in names if n not in out]
    for i, n in enumerate(others):
        out[n] = _OTHERS[i % len(_OTHERS)]
    return out


def level_colours(levels: Sequence[object], conditions: Iterable[object] = ()) -> list[str]:
    """Colours of a contrast's two levels, consistent with :func:`condition_colours` of the dataset.

    A level that is one of the dataset's ``conditions`` gets that
    condition's colour; a bare direction level (``FW``/``BW``) its
    direction's hue; any other level (a speed, say) a palette colour that no
    condition of the dataset uses, in the order of ``levels``.
    """
    table = condition_colours(conditions)
    used = set(table.values())
    free = [c for c in _OTHERS if c not in used] or list(_OTHERS)
    out = []
    for v in levels:
        key = str(v)
        if key in table:
            out.append(table[key])
        elif direction_of(key) is not None:
            out.append(FORWARD if direction_of(key) == "FW" else BACKWARD)
        else:
            out.append(free.pop(0) if len(free) > 1 else free[0])
    return out


__all__ += ["level_colours"]
