"""Synthetic Yokogawa CellVoyager plates, as the CV7000, CV8000 and CQ1 software writes them.

The plate folder gets ``MeasurementData.mlf`` (one record per image),
``MeasurementDetail.mrf`` (plate, counts and channels), a measurement
setting ``<model>_<n>ch.mes``, the plate's ``<plate>.wpi`` and the plate
product's ``<wells>wells.wpp``, the shading (``SC_BP405_BP445.tif``) and
dark (``DC_sCMOS #1_CAM1.tif``) correction TIFFs, and one uint16 TIFF per
plane, ``<plate>_<well>_T0001F001L01A01Z01C01.tif``. A missing plane keeps
its ``Type="IMG"`` record; only its file is left out.

Options:

``correction_images`` (``True``)
    Write the SC/DC correction TIFFs (and name them in the MRF).
``error_records`` (``1``)
    How many ``Type="ERR"`` records to add: failed fields of the first well
    beyond the plate's fields, which a reader must skip.
``model`` (``"CV8000"``)
    ``"CV7000"``, ``"CV8000"`` or ``"CQ1"``: the MRF's TargetSystem and the
    number of cameras.
``namespaced_attributes`` (``True``)
    Spell attributes ``bts:Type``; ``False`` spells them ``Type``.
``timelines`` (``1``)
    Split the time points over this many timelines, in order. As on the
    instrument, ``TimePoint`` counts across the whole measurement (timeline 2
    of a 2 + 2 split takes ``TimePoint`` 3 and 4) and ``L`` in a file name is
    the timeline.
``channel_per_timeline`` (``False``)
    Timeline k acquires only channel k (counting round the channels), as the
    vendor's multi-timeline QC measurements do: the other channels' planes at
    its time points are not taken (no record, no file).
``unacquired_channels`` (``0``)
    Define this many more channels in the MRF and the measurement setting's
    channel list that no action acquires, as protocols often do.
``actions`` (``"single"``)
    ``"single"``: one action takes every channel as ``Ch`` 1..n;
    ``"per_channel"``: action k takes channel k as ``Ch`` k;
    ``"shared_ch"``: action k takes channel k as ``Ch`` 1, so ``Ch`` numbers
    collide and a reader tells the channels apart by their action.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from platekit.microscopes._model import PlaneKey
from platekit.microscopes._wells import parse_well
from platekit.microscopes.testing import PlateSpec, take_options

NAMESPACE = "http://www.yokogawa.co.jp/BTS/BTSSchema/1.0"
MODELS = {"CV7000": 3, "CV8000": 4, "CQ1": 1}  # model -> cameras
ACTIONS = ("single", "per_channel", "shared_ch")
# Excitation laser and emission band-pass (nm) of channels 1, 2, 3, 4, 5, ...
_FILTERS = (("405", "445"), ("488", "525"), ("561", "600"), ("640", "676"))
# The width (nm) of each band-pass and the display colour (#AARRGGBB) the software gives it.
_BANDS = {"445": "45", "525": "50", "600": "37", "676": "29"}
_COLORS = {"405": "#FF1B54FF", "488": "#FF00FFA1", "561": "#FFFF8200", "640": "#FFFF1B00"}
_START = datetime(2024, 5, 14, 10, 21, 7, tzinfo=timezone(timedelta(hours=9)))
_FOCUS_UM = 3150.0
_NEWLINE = "\r\n"


def write(folder: Path, spec: PlateSpec) -> Path:
    """Write the plate ``spec`` into ``folder`` (created); return ``folder``.

    Raises ``ValueError`` for an option the writer does not take or a value
    it cannot write (an unknown model, a dtype other than uint16, more
    timelines than time points).
    """
    options = take_options(
        spec,
        {
            "correction_images": True,
            "error_records": 1,
            "model": "CV8000",
            "namespaced_attributes": True,
            "timelines": 1,
            "channel_per_timeline": False,
            "unacquired_channels": 0,
            "actions": "single",
        },
    )
    model = options["model"]
    if model not in MODELS:
        raise ValueError(f"model {model!r} is not a CellVoyager; choose one of {sorted(MODELS)}")
    if spec.dtype != "uint16":
        raise ValueError(f"CellVoyager writes uint16 TIFFs, not {spec.dtype}; leave dtype out")
    timelines = int(options["timelines"])
    if not 1 <= timelines <= spec.t:
        raise ValueError(f"timelines={timelines} must be between 1 and the {spec.t} time points")
    if options["actions"] not in ACTIONS:
        raise ValueError(f"actions={options['actions']!r}; choose one of {list(ACTIONS)}")
    errors = int(options["error_records"])
    if errors < 0:
        raise ValueError(f"error_records={errors} cannot be negative")
    unacquired = int(options["unacquired_channels"])
    if unacquired < 0:
        raise ValueError(f"unacquired_channels={unacquired} cannot be negative")

    folder.mkdir(exist_ok=True)
    writer = _Writer(
        spec,
        model,
        bool(options["namespaced_attributes"]),
        options["actions"],
        timelines,
        bool(options["channel_per_timeline"]),
        unacquired,
    )
    sources = writer.correction_images() if options["correction_images"] else {}
    for name, pixels in sources.items():
        _write_tiff(folder / name, pixels)
    records = writer.records(errors)
    _write_text(folder / "MeasurementData.mlf", writer.measurement_data(records))
    _write_text(folder / "MeasurementDetail.mrf", writer.measurement_detail(sources))
    _write_text(folder / writer.setting_name, writer.measurement_setting())
    _write_text(folder / f"{spec.name}.wpi", writer.well_plate())
    _write_text(folder / writer.product_name, writer.well_plate_product())
    gone = set(spec.missing)
    for key, name in writer.plane_files():
        if key not in gone:
            _write_tiff(folder / name, spec.pixels(key))
    return folder


def _write_text(path: Path, text: str) -> None:
    path.write_bytes(text.encode("utf-8"))


def _write_tiff(path: Path, pixels: np.ndarray) -> None:
    import tifffile

    # CellVoyager writes deflate TIFFs, which tifffile writes and reads without imagecodecs.
    tifffile.imwrite(path, pixels, photometric="minisblack", compression="zlib")


class _Writer:
    """The text of each file, for one plate."""

    def __init__(
        self,
        spec: PlateSpec,
        model: str,
        namespaced: bool,
        actions: str,
        timelines: int,
        channel_per_timeline: bool,
        unacquired: int,
    ) -> None:
        self.spec = spec
        self.timelines = timelines
        self.channel_per_timeline = channel_per_timeline
        self.model = model
        self.prefix = "bts:" if namespaced else ""
        self.cameras = MODELS[model]
        self.kind = "3D" if spec.z > 1 else "2D"
        self.setting_name = f"{model}_{spec.channels}ch.mes"
        rows, columns = spec.plate_format
        self.product_name = f"{rows * columns}wells.wpp"
        # channel -> (action, Ch)
        self.acquired = {
            channel: {
                "single": (1, channel),
                "per_channel": (channel, channel),
                "shared_ch": (channel, 1),
            }[actions]
            for channel in range(1, spec.channels + 1)
        }
        top = max(ch for _, ch in self.acquired.values())
        # Ch numbers the MRF and the setting define: the acquired ones, then the unused ones.
        self.defined = sorted({ch for _, ch in self.acquired.values()}) + list(
            range(top + 1, top + 1 + unacquired)
        )

    # -- pieces --------------------------------------------------------------------

    def attributes(self, **values: object) -> str:
        return "".join(f" {self.prefix}{name}={quoteattr(str(v))}" for name, v in values.items())

    def root(self, element: str, **values: object) -> str:
        return (
            f'<?xml version="1.0" encoding="utf-8"?>{_NEWLINE}'
            f"<bts:{element} xmlns:bts={quoteattr(NAMESPACE)}"
            f"{self.attributes(Version='1.0', **values)}>"
        )

    def plane_name(self, key: PlaneKey) -> str:
        action, ch = self.acquired[key.channel]
        return (
            f"{self.spec.name}_{key.well}_T{key.timepoint:04d}F{key.site:03d}"
            f"L{self.timeline_of(key.timepoint):02d}A{action:02d}Z{key.z_index:02d}C{ch:02d}.tif"
        )

    def timeline_of(self, t: int) -> int:
        """The timeline that takes the plate's time point ``t``."""
        base, extra = divmod(self.spec.t, self.timelines)
        first = 1
        for timeline in range(1, self.timelines + 1):
            size = base + (1 if timeline <= extra else 0)
            if t < first + size:
                return timeline
            first += size
        raise ValueError(f"time point {t} is beyond the plate's {self.spec.t}")

    def channels_of(self, timeline: int) -> list[int]:
        """The plate channels a timeline acquires."""
        if self.channel_per_timeline:
            return [(timeline - 1) % self.spec.channels + 1]
        return list(range(1, self.spec.channels + 1))

    def taken(self) -> list[PlaneKey]:
        """The planes the measurement takes (missing ones included): every plane of the
        spec that its time point's timeline acquires."""
        return [
            key
            for key in self.spec.planes()
            if key.channel in self.channels_of(self.timeline_of(key.timepoint))
        ]

    def position(self, key: PlaneKey) -> tuple[float, float, float]:
        """Stage X, Y (µm from the well centre) and Z (µm) of a plane."""
        spec = self.spec
        across = math.ceil(math.sqrt(spec.sites))
        down = math.ceil(spec.sites / across)
        height, width = spec.shape
        column, row = (key.site - 1) % across, (key.site - 1) // across
        x = (column - (across - 1) / 2) * width * spec.pixel_size_um
        y = ((down - 1) / 2 - row) * height * spec.pixel_size_um
        well_row, _ = parse_well(key.well)
        z = _FOCUS_UM + 0.5 * well_row + (key.z_index - 1) * spec.z_step_um
        return round(x, 3), round(y, 3), round(z, 3)

    def image_record(self, key: PlaneKey, clock: datetime) -> str:
        row, column = parse_well(key.well)
        action, ch = self.acquired[key.channel]
        x, y, z = self.position(key)
        attrs = self.attributes(
            Time=clock.isoformat(timespec="milliseconds"),
            Column=column,
            Row=row,
            TimePoint=key.timepoint,
            FieldIndex=key.site,
            ZIndex=key.z_index,
            TimelineIndex=self.timeline_of(key.timepoint),
            ActionIndex=action,
            Action=self.kind,
            X=x,
            Y=y,
            Z=z,
            Ch=ch,
            Type="IMG",
        )
        name = escape(self.plane_name(key))
        return f"<bts:MeasurementRecord{attrs}>{name}</bts:MeasurementRecord>"

    def plane_files(self) -> list[tuple[PlaneKey, str]]:
        return [(key, self.plane_name(key)) for key in self.taken()]

    # -- files ---------------------------------------------------------------------

    def records(self, errors: int) -> list[str]:
        """The MLF's records, in the order the instrument takes them."""
        spec = self.spec
        order = {well: index for index, well in enumerate(spec.wells)}
        action_of = {channel: action for channel, (action, _) in self.acquired.items()}
        keys = sorted(
            self.taken(),
            key=lambda k: (
                k.timepoint,
                order[k.well],
                k.site,
                action_of[k.channel],
                k.z_index,
                k.channel,
            ),
        )
        lines: list[str] = []
        clock = _START
        for number, key in enumerate(keys):
            # Ten minutes between time points, a little over a tenth of a second per image.
            clock = _START + timedelta(minutes=10 * (key.timepoint - 1), milliseconds=137 * number)
            lines.append(self.image_record(key, clock))
        if spec.wells:
            row, column = parse_well(spec.wells[0])
            for failed in range(1, errors + 1):
                # A field the instrument could not focus: an error record, no image. The
                # CV8000 gives it the field's stage position, but no Z, action or channel.
                clock += timedelta(milliseconds=2500)
                x, y, _ = self.position(PlaneKey(spec.wells[0], spec.sites + failed, 1))
                attrs = self.attributes(
                    Type="ERR",
                    Time=clock.isoformat(timespec="milliseconds"),
                    Column=column,
                    Row=row,
                    TimePoint=1,
                    FieldIndex=spec.sites + failed,
                    TimelineIndex=1,
                    X=x,
                    Y=y,
                )
                lines.append(
                    f"<bts:MeasurementRecord{attrs}>Auto focus failed: no focal "
                    "plane found</bts:MeasurementRecord>"
                )
        return lines

    def measurement_data(self, records: list[str]) -> str:
        body = "".join(f"  {record}{_NEWLINE}" for record in records)
        return f"{self.root('MeasurementData')}{_NEWLINE}{body}</bts:MeasurementData>{_NEWLINE}"

    def measurement_detail(self, sources: dict[str, np.ndarray]) -> str:
        spec = self.spec
        rows, columns = spec.plate_format
        height, width = spec.shape
        end = _START + timedelta(minutes=10 * spec.t)
        head = self.root(
            "MeasurementDetail",
            OperatorName="Operator",
            Title=spec.name,
            Application="Measurement",
            BeginTime=_START.isoformat(timespec="milliseconds"),
            EndTime=end.isoformat(timespec="milliseconds"),
            MeasurementSettingFileName=self.setting_name,
            ColumnCount=columns,
            RowCount=rows,
            TimePointCount=spec.t,
            FieldCount=spec.sites,
            ZCount=spec.z,
            TargetSystem=self.model,
            ReleaseNumber="3.05.01",
            Status="Completed",
        )
        plate = self.attributes(
            Name=spec.name,
            WellPlateFileName=f"{spec.name}.wpi",
            WellPlateProductFileName=self.product_name,
        )
        lines = [head, f"  <bts:MeasurementSamplePlate{plate}/>"]
        # Every channel the protocol defines, acquired or not.
        for ch in self.defined:
            laser, band = _FILTERS[(ch - 1) % len(_FILTERS)]
            shading = f"SC_BP{laser}_BP{band}.tif"
            correction = {"ShadingCorrectionSource": shading} if shading in sources else {}
            attrs = self.attributes(
                Ch=ch,
                HorizontalPixelDimension=spec.pixel_size_um,
                VerticalPixelDimension=spec.pixel_size_um,
                CameraNumber=(ch - 1) % self.cameras + 1,
                InputBitDepth=16,
                InputLevel=65535,
                HorizontalPixels=width,
                VerticalPixels=height,
                # The emission filter wheel and its slot, as the CV8000 records them.
                FilterWheelPosition=(ch - 1) % self.cameras + 1,
                FilterPosition=(ch - 1) // self.cameras + 1,
                **correction,
                ObjectiveMagnificationRatio=1,
                OriginalHorizontalPixels=width,
                OriginalVerticalPixels=height,
            )
            lines.append(f"  <bts:MeasurementChannel{attrs}/>")
        lines.append("</bts:MeasurementDetail>")
        return _NEWLINE.join(lines) + _NEWLINE

    def measurement_setting(self) -> str:
        """Each timeline's wells, fields and actions (``<bts:Ch>`` says what an action
        acquires), the light sources, and every channel the protocol defines."""
        spec = self.spec
        rows, columns = spec.plate_format
        lines = [self.root("MeasurementSetting", Application="", Columns=columns, Rows=rows)]
        lines.append("  <bts:Timelapse>")
        start = 0
        for timeline in range(1, self.timelines + 1):
            count = sum(1 for t in range(1, spec.t + 1) if self.timeline_of(t) == timeline)
            attrs = self.attributes(
                Name=f"Time Line {timeline}",
                InitialTime=start,
                Period=600 * count,
                Interval=600,
                ExpectedTime=600 * count,
            )
            start += 600 * count
            lines.append(f"    <bts:Timeline{attrs}>")
            lines.append(f"      <bts:WellSequence{self.attributes(IsSelected='true')}>")
            for well in spec.wells:
                row, column = parse_well(well)
                where = self.attributes(Column=column, Row=row)
                lines.append(f"        <bts:TargetWell{where}>true</bts:TargetWell>")
            lines.append("      </bts:WellSequence>")
            method = self.attributes(Method="FixedPosition")
            lines.append(f"      <bts:PointSequence{method}>")
            lines.append(f"        <bts:FixedPosition{self.attributes(IsProportional='false')}>")
            for site in range(1, spec.sites + 1):
                x, y, _ = self.position(PlaneKey(spec.wells[0] if spec.wells else "A01", site))
                lines.append(f"          <bts:Point{self.attributes(X=x, Y=y)} />")
            lines.append("        </bts:FixedPosition>")
            lines.append("      </bts:PointSequence>")
            lines.append(f"      <bts:ActionList{self.attributes(RunMode='sequential')}>")
            by_action: dict[int, list[int]] = {}
            for channel in self.channels_of(timeline):
                action, ch = self.acquired[channel]
                by_action.setdefault(action, []).append(ch)
            for action in sorted(by_action):
                tag = f"bts:ActionAcquire{self.kind}"
                stack = (
                    self.attributes(
                        TopDistance=(spec.z - 1) * spec.z_step_um,
                        BottomDistance=0,
                        SliceLength=spec.z_step_um,
                    )
                    if self.kind == "3D"
                    else ""
                )
                lines.append(f"        <{tag}{self.attributes(XOffset=0, YOffset=0)}{stack}>")
                for ch in by_action[action]:
                    lines.append(f"          <bts:Ch>{ch}</bts:Ch>")
                lines.append(f"        </{tag}>")
            lines.append("      </bts:ActionList>")
            lines.append("    </bts:Timeline>")
        lines.append("  </bts:Timelapse>")
        lines.append("  <bts:LightSourceList>")
        for laser, _ in _FILTERS:
            attrs = self.attributes(Name=f"{laser}nm", Type="Laser", WaveLength=laser, Power=100)
            lines.append(f"    <bts:LightSource{attrs} />")
        lines.append("  </bts:LightSourceList>")
        lines.append("  <bts:ChannelList>")
        for ch in self.defined:
            laser, band = _FILTERS[(ch - 1) % len(_FILTERS)]
            attrs = self.attributes(
                Ch=ch,
                Target=laser,
                Objective="20x",
                Method="Confocal Fluorescence 405/488/561/640 nm",
                Acquisition=f"BP{band}/{_BANDS[band]}",
                ExposureTime=100,
                Binning=1,
                Color=_COLORS[laser],
                Kind="ConfocalFluorescence",
                Fluorophore="",
            )
            lines.append(f"    <bts:Channel{attrs}>")
            lines.append(f"      <bts:LightSourceName>{laser}nm</bts:LightSourceName>")
            lines.append("    </bts:Channel>")
        lines.append("  </bts:ChannelList>")
        lines.append("</bts:MeasurementSetting>")
        return _NEWLINE.join(lines) + _NEWLINE

    def well_plate(self) -> str:
        rows, columns = self.spec.plate_format
        lines = [self.root("WellPlate", Name=self.spec.name, ProductName=self.product_name[:-4])]
        lines.append(f"  <bts:TargetWellList{self.attributes(RowCount=rows, ColumnCount=columns)}>")
        for well in self.spec.wells:
            row, column = parse_well(well)
            lines.append(f"    <bts:TargetWell{self.attributes(Row=row, Column=column)}/>")
        lines.append("  </bts:TargetWellList>")
        lines.append("</bts:WellPlate>")
        return _NEWLINE.join(lines) + _NEWLINE

    def well_plate_product(self) -> str:
        rows, columns = self.spec.plate_format
        # A standard footprint, 127.76 by 85.48 mm, with the wells spread over its middle.
        attrs = {
            "Name": self.product_name[:-4],
            "RowCount": rows,
            "ColumnCount": columns,
            "Width": 127760,
            "Height": 85480,
            "WellPitchX": round(108000 / columns),
            "WellPitchY": round(72000 / rows),
            "WellShape": "Square",
        }
        text = self.root("WellPlateProduct", **attrs) + "</bts:WellPlateProduct>"
        return text + _NEWLINE

    def correction_images(self) -> dict[str, np.ndarray]:
        """SC (shading) per filter pair and DC (dark) per camera, as the software saves them."""
        height, width = self.spec.shape
        rows = np.linspace(-1.0, 1.0, height)[:, None]
        cols = np.linspace(-1.0, 1.0, width)[None, :]
        dome = 1.0 - 0.3 * (rows**2 + cols**2) / 2
        images: dict[str, np.ndarray] = {}
        for ch in sorted({ch for _, ch in self.acquired.values()}):
            laser, band = _FILTERS[(ch - 1) % len(_FILTERS)]
            images[f"SC_BP{laser}_BP{band}.tif"] = (dome * 10000).astype(np.uint16)
            camera = (ch - 1) % self.cameras + 1
            dark = np.full((height, width), 100 + camera, dtype=np.uint16)
            images[f"DC_sCMOS #{camera}_CAM{camera}.tif"] = dark
        return images
