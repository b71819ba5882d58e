"""Errors the project expects and explains: each is printed as its message, with no traceback."""


class ProjectError(Exception):
    """A failure this project anticipates (bad input, bad parameter, a run in the way)."""


class RawDataMismatchError(ProjectError):
    """A raw file is not the one its dataset expects (by SHA-256 of its decompressed content)."""


class InvalidDataError(ProjectError, ValueError):
    """Data that loads but cannot be used: the message names the datasets and their files."""


class MissingInputError(ProjectError, FileNotFoundError):
    """A dataset the pipeline reads has never been written; the message says what writes it."""


class RunInProgressError(ProjectError):
    """Another run is writing into the same outputs; the message names its process."""


class ModelMismatchError(ProjectError, ValueError):
    """A stored model does not fit the data (or another model): the message names both shapes."""


class TrainingDivergedError(ProjectError):
    """The loss became NaN or infinite; the model of this run is not saved."""


class UnreadableImageError(ProjectError, ValueError):
    """A user's file is not an image the project reads: the message names it and says why."""
