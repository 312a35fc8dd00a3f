"""The optional libraries behind ``-l wandb`` and ``-l mlflow``: imported only when chosen, and when
missing, an error that names the ``pip install`` to run."""
import importlib
from types import ModuleType

__all__ = ["LOGGER_LIBRARIES", "LoggerLibraryMissing", "import_logger_library"]

# -l choice -> (module, what to install). mlflow-skinny is the tracking client alone (what a run
# needs to log to a server or a folder); the full "mlflow" distribution also provides the module.
LOGGER_LIBRARIES = {
    "wandb": ("wandb", "wandb"),
    "mlflow": ("mlflow", "mlflow-skinny"),
}


class LoggerLibraryMissing(ImportError):
    """``-l <name>`` was asked for and its library is not installed."""


def import_logger_library(choice: str) -> ModuleType:
    """The module of logger ``choice`` ("wandb" or "mlflow"), or LoggerLibraryMissing saying what to install."""
    module, distribution = LOGGER_LIBRARIES[choice]
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise LoggerLibraryMissing(
            f"-l {choice} needs the {module} package, which is not installed here ({err}): `pip install "
            f"{distribution}`, or install this package with its loggers: `pip install -e \".[loggers]\"`") from err
