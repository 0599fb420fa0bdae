"""Workflow tasks, workflow summaries and the sources they cite."""

from __future__ import annotations

from pydantic import Field

from ._base import ChatKitModel

__all__ = ["Source", "Task", "Workflow", "WorkflowSummary"]


class Source(ChatKitModel):
    """Something an answer or a task cites: a URL, a file or an entity (told apart by `type`)."""

    type: str | None = None
    """`"url"`, `"file"` or `"entity"`."""
    title: str | None = None
    url: str | None = None
    filename: str | None = None
    id: str | None = None
    description: str | None = None


class Task(ChatKitModel):
    """One step of a workflow, or the task of a task item.

    The protocol has several variants (`custom`, `thought`, `web_search`, `file`, `image`) with mostly
    optional fields; one lenient model keeps them all, and variants the library does not know yet.
    REST task groups send `{type, heading, summary}`; those land in `model_extra`.

    ```python
    task = Task.model_validate({"type": "thought", "content": "Checking the docs"})
    ```
    """

    type: str = "custom"
    title: str | None = None
    content: str | None = None
    icon: str | None = None
    status_indicator: str | None = None
    """`"none"`, `"loading"` or `"complete"`."""
    title_query: str | None = None
    queries: list[str] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)


class WorkflowSummary(ChatKitModel):
    """Either `{title, icon?}` (custom summary) or `{duration}` (seconds the workflow took)."""

    title: str | None = None
    icon: str | None = None
    duration: int | None = None


class Workflow(ChatKitModel):
    """The tasks of a workflow item (for instance the model's reasoning before it answers)."""

    type: str = "custom"
    """`"custom"` or `"reasoning"`."""
    tasks: list[Task] = Field(default_factory=list)
    summary: WorkflowSummary | None = None
    expanded: bool = False
