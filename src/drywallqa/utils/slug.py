import re


def slugify(prompt: str) -> str:
    """``"segment joint/tape"`` -> ``"segment_joint_tape"``: lower-case, runs of non ``[a-z0-9]`` -> ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", prompt.lower()).strip("_")
