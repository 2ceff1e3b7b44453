"""The one exception type the CLI turns into a clear, non-zero exit."""


class PipelineError(Exception):
    """Bad input: the message names the file or key, what was expected and what was found."""
