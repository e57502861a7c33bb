"""Label images (segmentation masks) of a field, as OME-NGFF ``labels``.

A field's label images live in its ``labels`` group, which lists their
names; each is a multiscale image of integers with ``image-label``
metadata (colours optional) pointing back at the field's image.
"""

from __future__ import annotations

from platekit.microscopes._ngff import wrap

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def label_axes(image_axes: list[dict[str, str]]) -> list[dict[str, str]]:
    """A label image's axes: the field image's, without the channel axis."""
    return [axis for axis in image_axes if axis["type"] != "channel"]


def label_attributes(
    ngff: str,
    name: str,
    axes: list[dict[str, str]],
    scales: list[list[float]],
    colors: dict[int, tuple[int, int, int, int]] | None,
) -> dict[str, Any]:
    """``multiscales`` and ``image-label`` of one label image, one dataset per scale."""
    datasets = [
        {"path": str(level), "coordinateTransformations": [{"type": "scale", "scale": scale}]}
        for level, scale in enumerate(scales)
    ]
    multiscale: dict[str, Any] = {"name": name, "axes": axes, "datasets": datasets}
    label: dict[str, Any] = {"source": {"image": "../../"}}
    if colors:
        label["colors"] = [
            {"label-value": int(value), "rgba": [int(part) for part in rgba]}
            for value, rgba in sorted(colors.items())
        ]
    if ngff == "0.4":
        multiscale["version"] = label["version"] = "0.4"
    return wrap(ngff, multiscales=[multiscale], **{"image-label": label})


def labels_group_attributes(ngff: str, names: list[str]) -> dict[str, Any]:
    """The ``labels`` group's metadata: the names of its label images."""
    return wrap(ngff, labels=sorted(names))


def check_colors(colors: Any) -> dict[int, tuple[int, int, int, int]] | None:
    """``{label value: (r, g, b, a)}``, each part 0-255; ``ValueError`` naming a bad entry."""
    if colors is None:
        return None
    checked = {}
    for value, rgba in dict(colors).items():
        parts = tuple(rgba)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or len(parts) != 4
            or not all(isinstance(p, int) and 0 <= p <= 255 for p in parts)
        ):
            raise ValueError(
                f"label colour {value!r}: {rgba!r} is not a label value with four parts "
                "(red, green, blue, alpha), each 0 to 255"
            )
        checked[value] = parts
    return checked
