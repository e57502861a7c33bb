"""platekit-microscopes: read HCS plates from real microscopes, and convert them to OME-Zarr.

``open_plate(folder)`` recognises the plate's format (ImageXpress,
Opera Phenix/Operetta, CellVoyager, OME-Zarr, or a third-party handler
from the ``platekit.microscopes`` entry-point group), reads its metadata
and gives every plane's pixels; ``convert(folder, "out.zarr")`` writes it
as an OME-Zarr HCS plate; ``PlateWriter`` writes a pipeline's results
(images and labels) as one.
"""

from platekit.cache import lazy_exports

#: The version of platekit-microscopes: written only here, where hatchling reads it.
__version__ = "0.1.0"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from platekit.microscopes._codecs import MissingCodecError
    from platekit.microscopes._components import (
        COMPONENTS,
        AllComponents,
        GroupBy,
        VariableComponents,
    )
    from platekit.microscopes._convert import (
        AbsentPlane,
        ConversionCancelled,
        ConversionResult,
        Progress,
        ScreenResult,
        convert,
        convert_screen,
    )
    from platekit.microscopes._errors import (
        AmbiguousPlateError,
        BadPlaneError,
        PlateError,
        PlateFormatError,
        UnknownPlateError,
    )
    from platekit.microscopes._executor import EXECUTORS, Executor
    from platekit.microscopes._handler import (
        METADATA_HANDLERS,
        MICROSCOPE_HANDLERS,
        FilenameParser,
        MetadataHandler,
        MicroscopeHandler,
    )
    from platekit.microscopes._layout import PlateLayout
    from platekit.microscopes._model import Channel, PlaneKey, PlaneName, PlateMetadata, PlateScan
    from platekit.microscopes._plate import Plate, detect_microscope, open_plate
    from platekit.microscopes._source import PlateSource
    from platekit.microscopes._wells import normal_well, parse_well, well_name
    from platekit.microscopes._writer import FieldWrittenError, PlateWriter
    from platekit.microscopes.functions import (
        FUNCTION_LIBRARIES,
        FunctionInfo,
        FunctionLibrary,
        function_library,
    )
    from platekit.microscopes.results import RESULT_FORMATS, ResultFormat, read_results

__all__ = [
    "COMPONENTS",
    "EXECUTORS",
    "FUNCTION_LIBRARIES",
    "METADATA_HANDLERS",
    "MICROSCOPE_HANDLERS",
    "RESULT_FORMATS",
    "AbsentPlane",
    "AllComponents",
    "AmbiguousPlateError",
    "BadPlaneError",
    "Channel",
    "ConversionCancelled",
    "ConversionResult",
    "Executor",
    "FieldWrittenError",
    "FilenameParser",
    "FunctionInfo",
    "FunctionLibrary",
    "GroupBy",
    "MetadataHandler",
    "MicroscopeHandler",
    "MissingCodecError",
    "PlaneKey",
    "PlaneName",
    "Plate",
    "PlateError",
    "PlateFormatError",
    "PlateLayout",
    "PlateMetadata",
    "PlateScan",
    "PlateSource",
    "PlateWriter",
    "Progress",
    "ResultFormat",
    "ScreenResult",
    "UnknownPlateError",
    "VariableComponents",
    "__version__",
    "convert",
    "convert_screen",
    "detect_microscope",
    "function_library",
    "normal_well",
    "open_plate",
    "parse_well",
    "read_results",
    "well_name",
]

# Public name -> private module that defines it.
_HOMES = {
    "MissingCodecError": "_codecs",
    "COMPONENTS": "_components",
    "AllComponents": "_components",
    "GroupBy": "_components",
    "VariableComponents": "_components",
    "AbsentPlane": "_convert",
    "ConversionCancelled": "_convert",
    "ConversionResult": "_convert",
    "Progress": "_convert",
    "convert": "_convert",
    "convert_screen": "_convert",
    "ScreenResult": "_plan",
    "EXECUTORS": "_executor",
    "Executor": "_executor",
    "AmbiguousPlateError": "_errors",
    "BadPlaneError": "_errors",
    "PlateError": "_errors",
    "PlateFormatError": "_errors",
    "UnknownPlateError": "_errors",
    "METADATA_HANDLERS": "_handler",
    "MICROSCOPE_HANDLERS": "_handler",
    "FilenameParser": "_handler",
    "MetadataHandler": "_handler",
    "MicroscopeHandler": "_handler",
    "Channel": "_model",
    "PlaneKey": "_model",
    "PlaneName": "_model",
    "PlateMetadata": "_model",
    "PlateScan": "_model",
    "Plate": "_plate",
    "PlateLayout": "_layout",
    "PlateWriter": "_writer",
    "FieldWrittenError": "_writer",
    "PlateSource": "_source",
    "detect_microscope": "_plate",
    "open_plate": "_plate",
    "normal_well": "_wells",
    "parse_well": "_wells",
    "well_name": "_wells",
    "FUNCTION_LIBRARIES": "functions",
    "FunctionInfo": "functions",
    "FunctionLibrary": "functions",
    "function_library": "functions",
    "RESULT_FORMATS": "results",
    "ResultFormat": "results",
    "read_results": "results",
}

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
