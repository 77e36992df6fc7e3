from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from lily_adapters.container import Container


def get_container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


def get_request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


ContainerDep = Annotated[Container, Depends(get_container)]
RequestIdDep = Annotated[str | None, Depends(get_request_id)]
