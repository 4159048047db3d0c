"""The event catalog under docs/ is generated from the code, and must not drift from it."""

from pathlib import Path

from shared.asyncapi_docs import render_all

DOCS = Path(__file__).parents[3] / "docs" / "asyncapi"


def test_committed_asyncapi_documents_match_the_code() -> None:
    stale = [
        name
        for name, text in render_all().items()
        if not (DOCS / f"{name}.yaml").exists() or (DOCS / f"{name}.yaml").read_text() != text
    ]
    assert not stale, f"regenerate with `make docs` (linli docs asyncapi): stale {stale}"


def test_every_published_event_is_in_the_catalog() -> None:
    docs = render_all()
    for event in ("OrderPlaced", "OrderCancelled", "StockReserved", "StockRejected", "ProductUpserted"):
        assert any(f":{event}" in text for text in docs.values()), event
