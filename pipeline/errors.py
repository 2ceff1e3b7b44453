"""The one exception type the CLI turns into a clear, non-zero exit."""


class PipelineError(Exception):
    """Bad input: the message names the file or key, what was expected and what was found."""


def first_line(err: BaseException) -> str:
    """The gist of a library's error (torch's weights-only explanation runs to 20 lines)."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    return (lines[0] if lines else type(err).__name__)[:160]
