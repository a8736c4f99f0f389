"""Run tags the instance's ``concurrency: runs:`` block acts on (see dagster.yaml)."""

EXCLUSIVE_TAG = "sync_pipeline/exclusive"


def exclusive(job: str) -> dict[str, str]:
    """Tags that allow one run of ``job`` at a time, so sensors never pile runs up."""
    return {EXCLUSIVE_TAG: job}
