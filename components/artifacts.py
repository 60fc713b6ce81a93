"""Where an Examples artifact keeps a split's files."""
import os

from tfx.types import artifact_utils


def split_files(artifact, split: str | None = None) -> str:
    """Glob of one split's files; without `split`, of the artifact's only split (the catalog has one)."""
    if split is None:
        [split] = artifact_utils.decode_split_names(artifact.split_names)
    return os.path.join(artifact_utils.get_split_uri([artifact], split), "*")
