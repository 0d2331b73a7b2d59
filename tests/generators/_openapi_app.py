"""A small real HTTP API for the OpenAPI toolset tests (served by uvicorn on loopback)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import FastAPI, Header, HTTPException, Query, Request
from pydantic import BaseModel, Field

#: The value the auth header must carry; the tests export it in an env var.
SECRET = "s3cret-token-5b1f9e"
AUTH_HEADER = "X-API-Key"


class ItemIn(BaseModel):
    name: str = Field(description="Display name.")
    price: float = Field(ge=0)
    tags: list[str] = []


class Item(ItemIn):
    id: int


class Entry(BaseModel):
    name: str
    qty: int = 1


def create_app() -> FastAPI:
    app = FastAPI(title="Test Shop API", version="1.2.3")
    items: dict[int, Item] = {
        1: Item(id=1, name="apple", price=0.5, tags=["fruit"]),
        2: Item(id=2, name="bread", price=2.25, tags=["bakery"]),
    }

    @app.get("/items/{item_id}", operation_id="getItem", summary="Get one item by id.")
    def get_item(item_id: int) -> Item:
        if item_id not in items:
            raise HTTPException(status_code=404, detail=f"item {item_id} not found")
        return items[item_id]

    @app.get("/items", operation_id="searchItems", summary="Search items by tag.")
    def search_items(
        tag: Annotated[str | None, Query(description="Only items with this tag.")] = None,
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> list[Item]:
        found = [i for i in items.values() if tag is None or tag in i.tags]
        return found[:limit]

    @app.post("/items", operation_id="createItem", status_code=201, summary="Create an item.")
    def create_item(body: ItemIn) -> Item:
        item = Item(id=max(items) + 1, **body.model_dump())
        items[item.id] = item
        return item

    @app.delete("/items/{item_id}", operation_id="deleteItem", summary="Delete an item.")
    def delete_item(item_id: int) -> dict[str, int]:
        if items.pop(item_id, None) is None:
            raise HTTPException(status_code=404, detail=f"item {item_id} not found")
        return {"deleted": item_id}

    @app.post("/lists/{name}/entries", summary="Add an entry to a named list.")
    def add_entry(name: str, entry: Entry) -> dict[str, object]:
        return {"list": name, "entry": entry.model_dump()}

    @app.get("/whoami", operation_id="whoami")
    def whoami(
        request: Request,
        x_request_id: Annotated[str | None, Header(description="Trace id echoed back.")] = None,
    ) -> dict[str, object]:
        sent = request.headers.get(AUTH_HEADER)
        return {"auth_present": sent is not None, "auth_ok": sent == SECRET, "request_id": x_request_id}

    @app.get("/echo-auth", operation_id="echoAuth")
    def echo_auth(request: Request) -> dict[str, object]:
        """A careless server that echoes the credential back."""
        return {"you_sent": request.headers.get(AUTH_HEADER), "note": f"key={request.headers.get(AUTH_HEADER)}"}

    @app.get("/files/{file_path}", operation_id="getFile")
    def get_file(file_path: str) -> dict[str, str]:
        return {"file_path": file_path}

    @app.get("/slow", operation_id="slow")
    async def slow(seconds: float = 1.0) -> dict[str, float]:
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    return app
